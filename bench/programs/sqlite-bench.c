/*
 * sqlite-bench: the P9 SQLite workload, linked with SQLite's amalgamation
 * (scripts/build-sqlite-wasm.sh builds it to wasm32-wasi).
 *
 *   sqlite-bench DB [BULK TXNS PER_TXN]     defaults 100000 2000 10
 *
 * On a fresh database file DB (rollback journal, synchronous=FULL: SQLite's
 * defaults): BULK inserts in one transaction, then TXNS transactions of
 * PER_TXN inserts each, into a table with a secondary index. Then prints
 * (stdout) the row count, sums and an FNV-1a hash over every row read back
 * in index order, so two hosts that ran the same workload print the same
 * line. Phase times (the guest's monotonic clock) go to stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sqlite3.h"

static sqlite3 *db;

static void die(const char *what) {
  fprintf(stderr, "sqlite-bench: %s: %s\n", what, db ? sqlite3_errmsg(db) : "no db");
  exit(1);
}

static void exec(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite-bench: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { /* xorshift64*: the same rows on every host */
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void insert(sqlite3_stmt *st) {
  char text[96];
  uint64_t r = next();
  int len = 16 + (int)(r % 64);
  for (int i = 0; i < len; i++) text[i] = 'a' + (char)((r >> (i % 58)) % 26);
  sqlite3_bind_int64(st, 1, (int64_t)(next() % 1000000007ull));
  sqlite3_bind_text(st, 2, text, len, SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_DONE) die("insert");
  sqlite3_reset(st);
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 5) {
    fprintf(stderr, "usage: sqlite-bench DB [BULK TXNS PER_TXN]\n");
    return 2;
  }
  long bulk = argc == 5 ? atol(argv[2]) : 100000;
  long txns = argc == 5 ? atol(argv[3]) : 2000;
  long perTxn = argc == 5 ? atol(argv[4]) : 10;
  remove(argv[1]);
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) die(argv[1]);
  exec("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b TEXT NOT NULL)");
  exec("CREATE INDEX t_a ON t(a)");
  sqlite3_stmt *ins;
  if (sqlite3_prepare_v2(db, "INSERT INTO t(a, b) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK) die("prepare");

  double t0 = now_ms();
  exec("BEGIN");
  for (long i = 0; i < bulk; i++) insert(ins);
  exec("COMMIT");
  double t1 = now_ms();
  for (long t = 0; t < txns; t++) {
    exec("BEGIN");
    for (long i = 0; i < perTxn; i++) insert(ins);
    exec("COMMIT");
  }
  double t2 = now_ms();
  sqlite3_finalize(ins);

  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, "SELECT id, a, b FROM t ORDER BY a, id", -1, &q, NULL) != SQLITE_OK) die("prepare select");
  uint64_t hash = 1469598103934665603ull, sumA = 0;
  long rows = 0;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    int64_t v[2] = { sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1) };
    const unsigned char *b = sqlite3_column_text(q, 2);
    int n = sqlite3_column_bytes(q, 2);
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < sizeof v; i++) hash = (hash ^ p[i]) * 1099511628211ull;
    for (int i = 0; i < n; i++) hash = (hash ^ b[i]) * 1099511628211ull;
    sumA += (uint64_t)v[1];
    rows++;
  }
  if (rc != SQLITE_DONE) die("select");
  sqlite3_finalize(q);
  double t3 = now_ms();
  int pages = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) pages = sqlite3_column_int(q, 0);
  sqlite3_finalize(q);
  if (sqlite3_close(db) != SQLITE_OK) die("close");
  printf("sqlite %s rows=%ld sum_a=%llu pages=%d fnv=%016llx\n", sqlite3_libversion(), rows, (unsigned long long)sumA, pages, (unsigned long long)hash);
  fprintf(stderr, "bulk_ms=%.1f txns_ms=%.1f scan_ms=%.1f\n", t1 - t0, t2 - t1, t3 - t2);
  return 0;
}
