"""Operator configuration: the shared secret each operator signs its pushes with."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import Admin, Db, Res
from api.schemas.common import Operator
from api.schemas.operators import PushSecretUpdate
from store import operators

router = APIRouter(prefix="/v1/operators", tags=["operators"])


@router.put("/{operator}/push-secret", status_code=status.HTTP_204_NO_CONTENT)
async def put_push_secret(operator: Operator, body: PushSecretUpdate, _: Admin, db: Db,
                          res: Res) -> Response:
    """Rotate the operator's push secret; the previous one stays valid for
    CARDPULSE_PUSH_SECRET_GRACE_S (default one day), so pushes never fail during a rotation."""
    await operators.set_push_secret(db, operator, body.secret, res.settings.push_secret_grace_s)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
