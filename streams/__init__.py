"""The stream processors (faust): topics, event schemas on the wire, publishing, and one agent
or timer module per capability (usage accounting, cycle rollover, webhooks)."""
