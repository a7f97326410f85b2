"""Imports (specs/business.md X-05, X-06, G4-27, AMB-06, AMB-48): reading an uploaded sheet,
checking its template and size, and validating its rows column by column — pure, no I/O.

`sheet` reads XLSX/XLS/ODS (python-calamine) or UTF-8 CSV into text cells; `table` holds the
generic mechanics (header match, whole-file refusals, per-row outcome); `kinds` the three
commission imports (long-term verification H-20, real-name results H-41, number-card
settlement H-31/H-36) with their parsed row types."""
