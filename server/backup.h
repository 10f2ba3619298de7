/*
 * "labgate-server backup FILE": a consistent copy of the live database,
 * taken with SQLite's online backup API while the server keeps writing.
 */
#ifndef LABGATE_BACKUP_H
#define LABGATE_BACKUP_H

#include <stdint.h>

#include "err.h"

struct backup_stats {
    int64_t results; /* rows in the copy's results table */
    int64_t max_id;  /* highest result id in the copy, 0 when empty */
    int pages;       /* database pages copied */
};

/*
 * Copy the labgate database at src into the new file dest.  The copy is
 * one read transaction of src (so it is exactly the database as of one
 * commit), written to a temporary file beside dest, checked with
 * PRAGMA integrity_check, switched to a single-file journal mode, synced
 * and renamed into place: dest either appears complete or not at all.
 * Refuses to overwrite an existing dest.  Returns 0 and fills stats
 * (may be NULL), or ERR_INVALID (dest exists, src is not a labgate
 * database) or ERR_IO with the reason in err.
 */
int backup_copy(const char *src, const char *dest, struct backup_stats *stats,
                struct err *err);

/*
 * The subcommand: argv[0] is "backup", then [--config FILE] [--db PATH]
 * FILE.  Returns the process exit status: 0 done, 1 failed, 2 usage.
 */
int backup_main(int argc, char **argv);

#endif
