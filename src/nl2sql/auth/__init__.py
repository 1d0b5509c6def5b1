"""Users, roles, passwords, browser sessions and API keys, and the guards that use them."""

from nl2sql.auth.api import api_routes as _api
from nl2sql.auth.dto import ApiKey, NewApiKey, Principal, Role, User
from nl2sql.auth.guards import (
    AuthMiddleware,
    LoginRequired,
    current_user,
    is_api_path,
    optional_user,
    principal_of,
    requires_admin,
    requires_user,
)
from nl2sql.auth.pages import login_redirect, page_routes as _pages
from nl2sql.auth.service import AuthService
from nl2sql.auth.sso import GroupMapping, SsoService
from nl2sql.auth.sso_api import sso_api_routes
from nl2sql.auth.sso_pages import sso_routes
from nl2sql.auth.setup import FirstRun, SetupPages, SetupRedirect

page_routes = [*_pages, *sso_routes, SetupPages]
api_routes = [*_api, *sso_api_routes]

__all__ = [
    "ApiKey",
    "AuthMiddleware",
    "AuthService",
    "FirstRun",
    "GroupMapping",
    "LoginRequired",
    "NewApiKey",
    "Principal",
    "Role",
    "SetupRedirect",
    "SsoService",
    "User",
    "api_routes",
    "current_user",
    "is_api_path",
    "login_redirect",
    "optional_user",
    "page_routes",
    "principal_of",
    "requires_admin",
    "requires_user",
]
