"""CardPulse."""
