"""The settlement benchmark's untimed set-up (cardpulse/tools/bench/settlement.py): number
cards registered and attributed to an agent with a number-card rule, in a few statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from psycopg.types.json import Jsonb

from store.agents import Actor, create_agent
from store.db import Conn

ADMIN = Actor("bench", "admin")
_CARDS = """
INSERT INTO cards (iccid, enterprise_id, operator, product_id, network_status)
SELECT iccid, %s, 'onelink', %s, 'active' FROM unnest(%s::text[]) AS c(iccid)
"""
_ATTRIBUTE = """
INSERT INTO card_attributions (iccid, agent_id, source, source_ref, at)
SELECT iccid, %s, 'platform', 'bench', %s FROM unnest(%s::text[]) AS c(iccid)
"""


async def setup(conn: Conn, run: int, cards: Sequence[str], attributed: Sequence[str],
                at: datetime) -> str:
    """Agent, enterprise, number-card product, the cards (`attributed` ones to the agent) and
    the agent's rule (3 % of the line; first recharge ≥ 50 yuan, 30 days, not 三无): the
    commissions stay frozen, as they do at a real import. Returns the agent's id."""
    agent, enterprise, product = f"nc-{run}", f"nc-{run}", f"nc-{run}"
    async with conn.transaction():
        await create_agent(conn, agent, "Settlement bench", None, ["number_card"], ADMIN)
        await conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES (%s, %s)",
                           (enterprise, "Settlement bench"))
        await conn.execute("INSERT INTO packages (package_id, name, business_line,"
                           " factory_price_fen) VALUES (%s, 'Number card', 'number_card', 1900)",
                           (product,))
        await conn.execute(_CARDS, (enterprise, product, list(cards)))
        await conn.execute(_ATTRIBUTE, (agent, at - timedelta(days=30), list(attributed)))
        await conn.execute(
            "INSERT INTO commission_rules (rule_id, version, agent_id, kind, business_line,"
            " amount_mode, amount_value, freeze_days, requires_approval, terms,"
            " effective_from, status, created_by) VALUES (%s, 1, %s, 'number_card_settlement',"
            " 'number_card', 'percent', 300, 0, true, %s, %s, 'active', 'bench')",
            (f"nc-{run}", agent, Jsonb({"first_recharge_fen": 5000, "min_tenure_days": 30,
                                        "require_not_sanwu": True}),
             at - timedelta(days=30)))
    return agent
