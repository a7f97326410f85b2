"""What tests share: waiting with a deadline, the real services and child processes, the
operator simulator, cards in the database, API helpers, a scripted operator client, the
`cardpulse up` stack, and dates from the clock a test runs under. Test modules import from
here, never from one another."""
