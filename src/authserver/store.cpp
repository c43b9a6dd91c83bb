#include "authserver/store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace bastion::authserver {

namespace {

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK; }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return ok_; }
  Statement& bind(int i, const std::string& text) {
    if (ok_) sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, std::int64_t value) {
    if (ok_) sqlite3_bind_int64(stmt_, i, value);
    return *this;
  }
  // SQLITE_ROW / SQLITE_DONE / an error code.
  int step() { return ok_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  std::string text(int column) {
    const unsigned char* p = sqlite3_column_text(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }
  std::int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

bool exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

// Numbered migrations; migration N brings the schema from version N-1 to N. Append only.
constexpr const char* kMigrations[] = {
    // 1: the first schema.
    "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE clients (client_id TEXT PRIMARY KEY, metadata TEXT NOT NULL, secret_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE consents (subject TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL,"
    "  granted_at INTEGER NOT NULL, PRIMARY KEY (subject, client_id));"
    "CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, client_id TEXT NOT NULL,"
    "  subject TEXT NOT NULL, scope TEXT NOT NULL, resource TEXT NOT NULL, issued_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);"
    "CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_pem TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, retired_at INTEGER NOT NULL DEFAULT 0);",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion);

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  const bool in_memory = path == ":memory:";
  if (!in_memory) {
    // Create the file 0600 before SQLite does (SQLite would use 0644 minus umask): it holds
    // refresh-token hashes and client-secret hashes.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fail(0, "cannot create the authorization server database " + path);
    ::fchmod(fd, 0600);
    ::close(fd);
  }
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail(0, "cannot open the authorization server database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 2000);
  std::unique_ptr<Store> store(new Store(db, in_memory));
  exec(db, "PRAGMA foreign_keys = ON;");
  if (!in_memory) exec(db, "PRAGMA journal_mode = WAL;");
  if (auto migrated = store->migrate(); !migrated) return std::unexpected(migrated.error());
  return store;
}

Store::~Store() { sqlite3_close(db_); }

Result<void> Store::migrate() {
  std::lock_guard lock(mutex_);
  int version = 0;
  {
    Statement s(db_, "PRAGMA user_version;");
    if (s.step() == SQLITE_ROW) version = static_cast<int>(s.integer(0));
  }
  if (version > kSchemaVersion) {
    return fail(0, "the authorization server database has schema version " + std::to_string(version) +
                       ", newer than this Bastion understands (" + std::to_string(kSchemaVersion) + ")");
  }
  for (int next = version + 1; next <= kSchemaVersion; ++next) {
    const std::string sql = std::string("BEGIN;") + kMigrations[next - 1] + "PRAGMA user_version = " +
                            std::to_string(next) + ";COMMIT;";
    if (!exec(db_, sql.c_str())) {
      const std::string message = sqlite3_errmsg(db_);
      exec(db_, "ROLLBACK;");
      return fail(0, "authorization server database migration " + std::to_string(next) + " failed: " + message);
    }
  }
  return {};
}

int Store::schema_version() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "PRAGMA user_version;");
  return s.step() == SQLITE_ROW ? static_cast<int>(s.integer(0)) : -1;
}

std::size_t Store::user_count() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM users;");
  return s.step() == SQLITE_ROW ? static_cast<std::size_t>(s.integer(0)) : 0;
}

std::optional<std::string> Store::user_password_hash(const std::string& username) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT password_hash FROM users WHERE username = ?;");
  s.bind(1, username);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return s.text(0);
}

bool Store::add_user(const std::string& username, const std::string& password_hash, std::int64_t now) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?);");
  s.bind(1, username).bind(2, password_hash).bind(3, now);
  return s.step() == SQLITE_DONE;
}

bool Store::put_client(const StoredClient& client) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT INTO clients (client_id, metadata, secret_hash, created_at) VALUES (?, ?, ?, ?);");
  s.bind(1, client.client_id).bind(2, client.metadata_json).bind(3, client.secret_hash).bind(4, client.created_at);
  return s.step() == SQLITE_DONE;
}

std::optional<StoredClient> Store::client(const std::string& client_id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT client_id, metadata, secret_hash, created_at FROM clients WHERE client_id = ?;");
  s.bind(1, client_id);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return StoredClient{s.text(0), s.text(1), s.text(2), s.integer(3)};
}

std::size_t Store::client_count() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM clients;");
  return s.step() == SQLITE_ROW ? static_cast<std::size_t>(s.integer(0)) : 0;
}

void Store::put_consent(const std::string& subject, const std::string& client_id, const std::string& scope,
                        std::int64_t now) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "INSERT INTO consents (subject, client_id, scope, granted_at) VALUES (?, ?, ?, ?) "
              "ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at;");
  s.bind(1, subject).bind(2, client_id).bind(3, scope).bind(4, now);
  s.step();
}

std::optional<std::string> Store::consent(const std::string& subject, const std::string& client_id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT scope FROM consents WHERE subject = ? AND client_id = ?;");
  s.bind(1, subject).bind(2, client_id);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return s.text(0);
}

bool Store::put_refresh(const RefreshRecord& r) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "INSERT INTO refresh_tokens (token_hash, family_id, client_id, subject, scope, resource, issued_at,"
              " expires_at, used, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);");
  s.bind(1, r.token_hash).bind(2, r.family_id).bind(3, r.client_id).bind(4, r.subject).bind(5, r.scope);
  s.bind(6, r.resource).bind(7, r.issued_at).bind(8, r.expires_at).bind(9, std::int64_t{r.used}).bind(10, std::int64_t{r.revoked});
  return s.step() == SQLITE_DONE;
}

std::optional<RefreshRecord> Store::refresh(const std::string& token_hash) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT token_hash, family_id, client_id, subject, scope, resource, issued_at, expires_at, used, revoked"
              " FROM refresh_tokens WHERE token_hash = ?;");
  s.bind(1, token_hash);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  RefreshRecord r;
  r.token_hash = s.text(0);
  r.family_id = s.text(1);
  r.client_id = s.text(2);
  r.subject = s.text(3);
  r.scope = s.text(4);
  r.resource = s.text(5);
  r.issued_at = s.integer(6);
  r.expires_at = s.integer(7);
  r.used = s.integer(8) != 0;
  r.revoked = s.integer(9) != 0;
  return r;
}

bool Store::mark_refresh_used(const std::string& token_hash) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE refresh_tokens SET used = 1 WHERE token_hash = ? AND used = 0 AND revoked = 0;");
  s.bind(1, token_hash);
  return s.step() == SQLITE_DONE && sqlite3_changes(db_) == 1;
}

std::size_t Store::revoke_family(const std::string& family_id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0;");
  s.bind(1, family_id);
  if (s.step() != SQLITE_DONE) return 0;
  return static_cast<std::size_t>(sqlite3_changes(db_));
}

void Store::purge_expired_refresh(std::int64_t now) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "DELETE FROM refresh_tokens WHERE expires_at < ?;");
  s.bind(1, now);
  s.step();
}

void Store::put_key(const KeyRecord& key) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT INTO signing_keys (kid, alg, private_pem, created_at, retired_at) VALUES (?, ?, ?, ?, ?);");
  s.bind(1, key.kid).bind(2, key.alg).bind(3, key.private_pem).bind(4, key.created_at).bind(5, key.retired_at);
  s.step();
}

std::vector<KeyRecord> Store::keys() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT kid, alg, private_pem, created_at, retired_at FROM signing_keys ORDER BY created_at, kid;");
  std::vector<KeyRecord> out;
  while (s.step() == SQLITE_ROW) out.push_back(KeyRecord{s.text(0), s.text(1), s.text(2), s.integer(3), s.integer(4)});
  return out;
}

void Store::retire_key(const std::string& kid, std::int64_t at) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at = 0;");
  s.bind(1, at).bind(2, kid);
  s.step();
}

void Store::delete_key(const std::string& kid) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "DELETE FROM signing_keys WHERE kid = ?;");
  s.bind(1, kid);
  s.step();
}

}  // namespace bastion::authserver
