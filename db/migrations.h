#pragma once
// Versioned schema migrations. Every statement the schema needs lives in
// migrations.cpp, in order; a daemon applies the missing ones at start-up.

#include <string>
#include <vector>

#include <pqxx/connection>


namespace ps::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

const std::vector<Migration>& migrations();

// Applies every migration newer than the database's version, in one
// transaction under an advisory lock, so daemons starting together apply each
// migration once. Returns how many were applied. Throws when the database is
// at a version this binary does not know (a newer binary migrated it).
int migrate(pqxx::connection& conn);

// The highest applied version, 0 for a fresh database.
int schema_version(pqxx::connection& conn);

}  // namespace ps::db
