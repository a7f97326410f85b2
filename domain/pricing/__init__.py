"""Pricing and agents (specs/business.md §1, G1), pure: the bounds of every price (`rules`),
the invalidation cascade (`book`), the price chain orders snapshot (`chain`), price-risk checks
(`risk`), who sees what (`visibility`), the agent tree's rules (`agents`) and what pricing
refuses (`errors`). `store.agents` and `store.pricing` do the I/O."""
