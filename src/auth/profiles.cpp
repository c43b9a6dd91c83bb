#include "auth/profiles.hpp"

#include <chrono>

namespace bastion::auth {

namespace {

void add_space_separated(std::set<std::string>& out, const json::value* v) {
  if (!v) return;
  if (v->is_string()) {
    std::string_view s = v->get_string();
    while (!s.empty()) {
      const auto sp = s.find(' ');
      auto word = s.substr(0, sp);
      if (!word.empty()) out.emplace(word);
      if (sp == std::string_view::npos) break;
      s.remove_prefix(sp + 1);
    }
  } else if (v->is_array()) {
    for (const auto& e : v->get_array())
      if (e.is_string() && !e.get_string().empty()) out.emplace(e.get_string());
  }
}

std::string first_string(const json::object& c, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (const auto* v = c.if_contains(n); v && v->is_string()) return std::string(v->get_string());
  return {};
}

void keep(json::object& out, const json::object& c, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (const auto* v = c.if_contains(n)) out[n] = *v;
}

}  // namespace

Principal map_claims(ClaimsProfile profile, const json::object& c, std::string issuer) {
  Principal p;
  p.issuer = std::move(issuer);
  p.subject = first_string(c, {"sub"});
  if (const auto* exp = c.if_contains("exp"); exp && exp->is_number()) {
    boost::system::error_code ec;
    const double seconds = exp->to_number<double>(ec);
    if (!ec) p.expires_at = std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<std::int64_t>(seconds)));
  }
  switch (profile) {
    case ClaimsProfile::generic:
      add_space_separated(p.scopes, c.if_contains("scope"));
      add_space_separated(p.scopes, c.if_contains("scp"));
      p.client_id = first_string(c, {"client_id", "azp", "cid"});
      break;
    case ClaimsProfile::keycloak:
      add_space_separated(p.scopes, c.if_contains("scope"));
      p.client_id = first_string(c, {"azp", "client_id"});
      if (const auto* ra = c.if_contains("realm_access"); ra && ra->is_object()) {
        if (const auto* roles = ra->get_object().if_contains("roles"); roles && roles->is_array()) {
          p.claims["roles"] = *roles;
          for (const auto& r : roles->get_array())
            if (r.is_string()) p.scopes.insert("role:" + std::string(r.get_string()));
        }
      }
      keep(p.claims, c, {"azp", "resource_access", "preferred_username"});
      break;
    case ClaimsProfile::entra:
      // v2 tokens: delegated permissions in `scp` (space-separated), application permissions
      // in `roles`; the client is `azp` (v2) or `appid` (v1).
      add_space_separated(p.scopes, c.if_contains("scp"));
      add_space_separated(p.scopes, c.if_contains("roles"));
      p.client_id = first_string(c, {"azp", "appid"});
      keep(p.claims, c, {"tid", "oid", "roles", "azp", "appid", "ver"});
      break;
    case ClaimsProfile::auth0:
      // RBAC puts API permissions in `permissions`; `scope` holds the granted OAuth scopes.
      add_space_separated(p.scopes, c.if_contains("scope"));
      add_space_separated(p.scopes, c.if_contains("permissions"));
      p.client_id = first_string(c, {"azp", "client_id"});
      keep(p.claims, c, {"permissions", "azp", "gty"});
      break;
    case ClaimsProfile::okta:
      add_space_separated(p.scopes, c.if_contains("scp"));
      p.client_id = first_string(c, {"cid", "client_id"});
      keep(p.claims, c, {"cid", "uid"});
      break;
  }
  return p;
}

}  // namespace bastion::auth
