#include <catch2/catch.hpp>

#include <thread>

#include <pqxx/pqxx>

#include "db/error_text.h"
#include "db/migrations.h"
#include "db/pool.h"
#include "tests/support/test_database.h"

using ps::test::TestDatabase;

TEST_CASE("migrations: a fresh database gets every migration, once", "[db]") {
  TestDatabase db;
  pqxx::connection conn(db.url());
  CHECK(ps::db::schema_version(conn) == 0);
  CHECK(ps::db::migrate(conn) == static_cast<int>(ps::db::migrations().size()));
  CHECK(ps::db::schema_version(conn) == ps::db::migrations().back().version);
  CHECK(ps::db::migrate(conn) == 0);
  pqxx::work tx(conn);
  CHECK(tx.exec1("SELECT to_regclass('app_instances') IS NOT NULL")[0].as<bool>());
}

TEST_CASE("migrations: daemons migrating at once apply each migration once", "[db]") {
  TestDatabase db;
  std::vector<std::thread> threads;
  std::atomic<int> applied{0}, failed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        pqxx::connection conn(db.url());
        applied += ps::db::migrate(conn);
      } catch (const std::exception&) {
        ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  CHECK(applied == static_cast<int>(ps::db::migrations().size()));
  pqxx::connection conn(db.url());
  pqxx::work tx(conn);
  CHECK(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>() ==
        static_cast<int>(ps::db::migrations().size()));
}

TEST_CASE("migrations: a database from a newer binary is refused", "[db]") {
  TestDatabase db;
  pqxx::connection conn(db.url());
  ps::db::migrate(conn);
  {
    pqxx::work tx(conn);
    tx.exec0("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')");
    tx.commit();
  }
  CHECK_THROWS_WITH(ps::db::migrate(conn), Catch::Contains("version 9999, newer than this binary knows"));
}

TEST_CASE("pool: leases are bounded, returned and reused", "[db]") {
  TestDatabase db;
  ps::db::Pool pool(db.url(), 2, std::chrono::seconds(5));
  {
    auto a = pool.acquire();
    auto b = pool.acquire();
    CHECK_THROWS_AS(pool.acquire(std::chrono::milliseconds(50)), ps::db::PoolTimeout);
  }
  auto c = pool.acquire(std::chrono::milliseconds(50));
  pqxx::nontransaction tx(*c);
  CHECK(tx.exec1("SELECT 41 + 1")[0].as<int>() == 42);
}

TEST_CASE("pool: a connection killed by the server is replaced", "[db]") {
  TestDatabase db;
  ps::db::Pool pool(db.url(), 1, std::chrono::seconds(5));
  int pid = 0;
  {
    auto conn = pool.acquire();
    pqxx::nontransaction tx(*conn);
    pid = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  }
  {
    pqxx::connection admin(db.url());
    pqxx::nontransaction tx(admin);
    tx.exec1("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  }
  {
    auto conn = pool.acquire();
    pqxx::nontransaction tx(*conn);
    CHECK_THROWS_AS(tx.exec1("SELECT 1"), pqxx::broken_connection);
  }
  auto conn = pool.acquire();
  pqxx::nontransaction tx(*conn);
  CHECK(tx.exec1("SELECT pg_backend_pid()")[0].as<int>() != pid);
}

TEST_CASE("pool: an unreachable server is an error, not a hang", "[db]") {
  ps::db::Pool pool("postgresql://postgres@/x?host=/nonexistent-socket-dir", 1, std::chrono::seconds(2));
  CHECK_THROWS_AS(pool.acquire(), pqxx::broken_connection);
  // The failed connect gave its slot back.
  CHECK_THROWS_AS(pool.acquire(std::chrono::milliseconds(100)), pqxx::broken_connection);
}

TEST_CASE("error text: a lost or refused connection says that Postgres is unreachable", "[db]") {
  ps::db::Pool pool("postgresql://postgres@/x?host=/nonexistent-socket-dir", 1, std::chrono::seconds(2));
  try {
    pool.acquire();
    FAIL("connected");
  } catch (const std::exception& e) {
    auto text = ps::db::error_text(e);
    CHECK(text.rfind("Postgres is unreachable: ", 0) == 0);
    CHECK(text.find('\n') == std::string::npos);
  }
  CHECK(ps::db::error_text(std::runtime_error("Could not obtain client encoding.\n")) ==
        "Postgres is unreachable: Could not obtain client encoding.");
  CHECK(ps::db::error_text(std::runtime_error("ERROR:  syntax error\n")) == "ERROR:  syntax error");
}
