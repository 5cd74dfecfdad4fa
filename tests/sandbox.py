def point_xero_at_sandbox(settings, base_url: str) -> None:
    """Send the portal's Xero calls to the built-in sandbox served at ``base_url``."""
    sandbox = base_url + "/xero-sandbox"
    settings.XERO_AUTHORIZE_URL = sandbox + "/identity/connect/authorize"
    settings.XERO_TOKEN_URL = sandbox + "/identity/connect/token"
    settings.XERO_REVOCATION_URL = sandbox + "/identity/connect/revocation"
    settings.XERO_CONNECTIONS_URL = sandbox + "/api/connections"
    settings.XERO_ID_TOKEN_ISSUER = sandbox + "/identity"
    settings.XPM_API_URL = sandbox + "/api/practicemanager/3.1/"
