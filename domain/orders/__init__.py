"""G2 orders, pure (specs/business.md §2): the state machines SM-G2-ORDER, SM-G2-RECHARGE and
SM-G2-WITHDRAWAL as tables (`machines`), the money each step moves (`money`: settlement,
recharge, withdrawal transfers) and the refusals (`errors`). `store.orders` does the I/O."""
