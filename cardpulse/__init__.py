"""The shell: the `cardpulse` CLI, one composition root per process (`roots`), the `up`
supervisor and its embedded services (`supervisor`), and the tools (`tools`: bench, fleet).

The only floor that may import every other one; nothing imports it."""
