/*
 * The SQL migrations compiled into the server (generated from
 * migrations/NNNN_name.sql by cmake/embed_migrations.cmake).  Entry i has
 * version i + 1; the store applies those above the database's
 * PRAGMA user_version, in order, each in its own transaction.
 */
#ifndef LABGATE_STORE_MIGRATIONS_H
#define LABGATE_STORE_MIGRATIONS_H

struct store_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct store_migration store_migrations[];
extern const int store_migration_count;

#endif
