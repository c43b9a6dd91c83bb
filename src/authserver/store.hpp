// Persistent state of the embedded authorization server in SQLite: users created at first start,
// registered clients, remembered consents, refresh tokens (hashed), signing-key metadata. A file
// under the data directory, or ":memory:" in tests. Schema changes are numbered migrations
// applied in order at open; a database from a newer Bastion is refused (fail closed) rather than
// written to.
//
// Thread safety: every member locks one mutex; SQLite calls are short (indexed single rows) and
// run on the authorization server's workers, never on an I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

struct sqlite3;

namespace bastion::authserver {

struct StoredClient {
  std::string client_id;
  std::string metadata_json;  // the registered metadata (RFC 7591 §2), as returned to the client
  std::string secret_hash;    // hex SHA-256 of the client secret; "" for public clients
  std::int64_t created_at = 0;
};

struct RefreshRecord {
  std::string token_hash;  // hex SHA-256 of the token: the token itself is never stored
  std::string family_id;   // every rotation of one grant shares it (reuse revokes them all)
  std::string client_id;
  std::string subject;
  std::string scope;
  std::string resource;
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  bool used = false;
  bool revoked = false;
};

struct KeyRecord {
  std::string kid;
  std::string alg;          // "ES256" or "EdDSA"
  std::string private_pem;  // only for an in-memory store; on disk the PEM lives in a 0600 file
  std::int64_t created_at = 0;
  std::int64_t retired_at = 0;  // 0: still the signing key
};

class Store {
 public:
  static constexpr int kSchemaVersion = 1;

  // `path`: a database file (created with mode 0600) or ":memory:".
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();
  bool in_memory() const { return in_memory_; }

  // Users created by Bastion itself (the first-start admin). Users from the config file are not
  // stored.
  std::size_t user_count();
  std::optional<std::string> user_password_hash(const std::string& username);
  bool add_user(const std::string& username, const std::string& password_hash, std::int64_t now);

  bool put_client(const StoredClient& client);  // false when the id exists already
  std::optional<StoredClient> client(const std::string& client_id);
  std::size_t client_count();

  void put_consent(const std::string& subject, const std::string& client_id, const std::string& scope, std::int64_t now);
  std::optional<std::string> consent(const std::string& subject, const std::string& client_id);

  bool put_refresh(const RefreshRecord& record);
  std::optional<RefreshRecord> refresh(const std::string& token_hash);
  // Marks a token used; true only for the one caller that flipped it (atomic check-and-set, so
  // two concurrent refreshes with one token cannot both succeed).
  bool mark_refresh_used(const std::string& token_hash);
  std::size_t revoke_family(const std::string& family_id);
  // Deletes refresh tokens that expired before `now` (they can no longer be reused anyway).
  void purge_expired_refresh(std::int64_t now);

  void put_key(const KeyRecord& key);
  std::vector<KeyRecord> keys();  // oldest first
  void retire_key(const std::string& kid, std::int64_t at);
  void delete_key(const std::string& kid);

 private:
  Store(sqlite3* db, bool in_memory) : db_(db), in_memory_(in_memory) {}
  Result<void> migrate();

  std::mutex mutex_;
  sqlite3* db_;
  bool in_memory_;
};

}  // namespace bastion::authserver
