// Claims mapping profiles: how each identity provider shapes scopes, client ids and the claims
// worth keeping. Every profile starts from RFC 9068 (`scope` string, `client_id`) and adds its
// provider's own shape. The mapped Principal never contains the token.
#pragma once

#include <boost/json.hpp>

#include <string>

#include "auth/auth_types.hpp"
#include "bastion/types.hpp"

namespace bastion::auth {

//  generic   scope "a b" | scp "a b" | scp [..]; client_id | azp | cid
//  keycloak  scope "a b"; client azp; realm_access.roles and resource_access kept as claims
//            (roles are also usable as scopes "role:<name>")
//  entra     scp "a b" (delegated) + roles [..] (application permissions) as scopes;
//            client azp | appid; tid, oid, roles, ver kept
//  auth0     scope "a b" + permissions [..] as scopes; client azp | client_id
//  okta      scp [..]; client cid; uid kept
Principal map_claims(ClaimsProfile profile, const json::object& claims, std::string issuer);

}  // namespace bastion::auth
