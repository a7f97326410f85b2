"""`cardpulse bench`: the whole pipeline under load, against the floors of this machine."""
