"""What tests share: waiting with a deadline, the real services and child processes, the
operator simulator, cards in the database, API helpers, a scripted operator client and the
`cardpulse up` stack. Test modules import from here, never from one another."""
