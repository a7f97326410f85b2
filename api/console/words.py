"""The words the console shows for the platform's codes (roles, statuses, stop reasons,
operators), as catalogue messages: one place, so tables, filters and exports agree."""

from __future__ import annotations

from api.console.i18n import N_

ROLE_NAMES = {
    "admin": N_("Platform administrator"),
    "platform_ops": N_("Platform operations (read-only)"),
    "enterprise_admin": N_("Enterprise administrator"),
    "enterprise_viewer": N_("Enterprise viewer (read-only)"),
    "platform_operator": N_("Platform operator"),
    "platform_finance": N_("Platform finance"),
    "agent_admin": N_("Agent administrator"),
    "agent_viewer": N_("Agent viewer (read-only)"),
    "end_user": N_("End user"),
    "vendor_admin": N_("Vendor administrator"),
    "vendor_pm": N_("Vendor project manager"),
    "provider_admin": N_("Provider administrator"),
    "provider_staff": N_("Provider staff"),
    "customer": N_("Customer"),
}
STATUS_NAMES = {
    "active": N_("active"),
    "stopped": N_("stopped"),
    "unknown": N_("unknown"),
}
OPERATOR_NAMES = {
    "onelink": N_("China Mobile OneLink"),
    "jasper": N_("China Unicom (Jasper)"),
    "ctcc": N_("China Telecom CMP"),
}
# Each stop reason: a short name and what it means, in words a customer understands.
REASONS = {
    "not_opened": (N_("not opened yet"),
                   N_("The card was bought but not opened at the operator yet; it is opened "
                      "when it is activated and no other reason holds.")),
    "manual": (N_("stopped by hand"),
               N_("Someone of your enterprise (or the platform) stopped this card; it stays "
                  "stopped until it is resumed by hand.")),
    "package_quota": (N_("package used up"),
                      N_("The card used all the data of its package in this billing cycle; it "
                         "resumes when the package grows or the next cycle starts.")),
    "pool_exhausted": (N_("pool used up"),
                       N_("The pool this card shares reached its limit in this billing cycle; "
                          "every card of the pool resumes when the limit is raised or the next "
                          "cycle starts.")),
    "pool_card_cap": (N_("over the per-card cap"),
                      N_("The card used more than the per-card cap of its pool in this billing "
                         "cycle; it resumes when the cap is raised or the next cycle starts.")),
}
CONTROL_STATES = {
    "pending": N_("waiting to be sent"),
    "confirming": N_("sent, waiting for the operator's confirmation"),
    "done": N_("done"),
    "failed": N_("failed: the operator refused or kept failing"),
}

# Refusals of sessions.py and domain.people.rules, shown on the password and login forms.
PASSWORD_PROBLEMS = (
    N_("a password has at least 10 characters"),
    N_("a password has at most 256 characters"),
    N_("a password is not only digits"),
    N_("a password does not contain the login"),
    N_("the current password is wrong"),
    N_("the new password is the current one"),
    N_("The two new passwords differ."),
)

# Values shown as badges or table cells through `_()` in templates.
SHOWN_VALUES = (
    N_("ok"), N_("exhausted"), N_("near the limit"),
    N_("none"), N_("pending"), N_("delivered"), N_("failed"),
)
ALERT_KINDS = {"card_package": N_("card package"), "pool": N_("pool")}
