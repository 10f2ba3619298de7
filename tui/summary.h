/*
 * Reading a GET /lab/summary answer without building it as one JSON
 * tree.  With 10,000 suites the answer is some 14 MB of text; as a
 * jansson tree it would take over 100 MB, so the text is scanned once
 * and each cell is parsed (and freed) on its own.
 */
#ifndef LABGATE_SUMMARY_H
#define LABGATE_SUMMARY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Called for each element of "cells" (a borrowed reference, freed after
 * the call).  Returns 0 to go on, or a negative code (with err set) to
 * stop the scan.
 */
typedef int (*summary_cell_fn)(void *arg, json_t *cell, struct err *err);

/*
 * Scan text (len bytes): a JSON object with an integer "last_id" and an
 * array "cells".  fn (may be NULL to only validate the shape and read
 * last_id) sees each cell in order.  Returns 0 with *last_id set, or
 * ERR_INVALID naming what is malformed, or fn's code.
 */
int summary_parse(const char *text, size_t len, summary_cell_fn fn, void *arg,
                  int64_t *last_id, struct err *err);

#endif
