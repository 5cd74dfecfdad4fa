"""The tenants the sandbox offers, and how Xero's /connections describes them."""

from .models import Connection, Scenario

XPM_TENANT = {
    "tenantId": "9d3c2a5e-6f1b-4e8a-b2c4-7a8d9e0f1a2b",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Harbour View Accounting (Sandbox)",
}
SECOND_XPM_TENANT = {
    "tenantId": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
    "tenantType": "PRACTICEMANAGER",
    "tenantName": "Coastal Tax Partners (Sandbox)",
}
ACCOUNTING_TENANT = {
    "tenantId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "tenantType": "ORGANISATION",
    "tenantName": "Harbour View Accounting Ltd (Xero accounting)",
}
TENANTS = {t["tenantId"]: t for t in (XPM_TENANT, SECOND_XPM_TENANT, ACCOUNTING_TENANT)}


def offered_tenants() -> list[dict]:
    """The tenants a consent offers now, named as the scenario says Xero names them."""
    match Scenario.current().tenants:
        case Scenario.Tenants.NONE:
            tenants = [ACCOUNTING_TENANT]
        case Scenario.Tenants.SEVERAL:
            tenants = [XPM_TENANT, ACCOUNTING_TENANT, SECOND_XPM_TENANT]
        case _:
            tenants = [XPM_TENANT]
    return [as_named(tenant) for tenant in tenants]


def as_named(tenant: dict) -> dict:
    if tenant["tenantType"] != "PRACTICEMANAGER":
        return dict(tenant)
    named = {k: v for k, v in tenant.items() if k != "tenantName"}
    match Scenario.current().tenant_names:
        case Scenario.TenantNames.NULL:
            named["tenantName"] = None
        case Scenario.TenantNames.EMPTY:
            named["tenantName"] = ""
        case Scenario.TenantNames.MISSING:
            pass
        case _:
            named["tenantName"] = tenant["tenantName"]
    return named


def described(connection: Connection) -> dict:
    """A connection in the shape of Xero's /connections answer."""
    return {
        "id": connection.id,
        "authEventId": connection.auth_event_id,
        **as_named(TENANTS[connection.tenant_id]),
        "createdDateUtc": connection.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f0"),
        "updatedDateUtc": connection.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f0"),
    }
