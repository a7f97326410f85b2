"""The commission engine's decisions (specs/business.md §5, H): rule models, amounts, the record
and approval state machines, evaluation and explanation — pure, no I/O."""
