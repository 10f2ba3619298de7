/*
 * Key file and HMAC-SHA-256 for the audit chain.
 *
 * The key file holds 64 hex digits (32 random bytes) and a newline.  It
 * is created with O_EXCL and mode 0600 and refused later when its mode
 * lets anyone but the owner in, because a key others can read protects
 * nothing.  A symbolic link is followed when reading (secret stores
 * mount keys that way) and the permissions checked are the target's.
 * The key is never logged or put in an error message; only its
 * id (a MAC of a fixed label, so it reveals nothing about the key) is.
 *
 * struct audit_mac keeps one OpenSSL EVP_MAC context keyed once and
 * re-initialised per value (EVP_MAC_init with a NULL key reuses the key),
 * plus a reusable buffer for the encoding, so chaining a row costs one
 * HMAC and no allocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_chain.h"
#include "buf.h"
#include "hex.h"

#define AUDIT_CHAIN_MAGIC "labgate-audit-v1"
#define AUDIT_KEY_TEXT_MAX 128

struct audit_mac {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
    struct buf enc;
    int oom; /* an append failed: the encoding is incomplete */
};

int
audit_chain_equal(const unsigned char *a, const unsigned char *b)
{
    return CRYPTO_memcmp(a, b, AUDIT_CHAIN_LEN) == 0;
}

void
audit_chain_key_wipe(struct audit_key *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

/* Make a new key file; the directory entry is synced so it survives. */
static int
audit_chain_key_create(const char *path, struct err *err)
{
    unsigned char secret[AUDIT_CHAIN_LEN];
    char text[AUDIT_CHAIN_HEX + 1], dir[4096];
    int fd, dfd, rc = 0;

    if (RAND_bytes(secret, sizeof secret) != 1)
        return err_set(err, ERR_INTERNAL,
                       "no random bytes for the audit "
                       "key");
    hex_encode(secret, sizeof secret, text);
    strcat(text, "\n");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_set(err, ERR_IO, "cannot create audit key %.150s: %s", path,
                     strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        fsync(fd) != 0) {
        rc = err_set(err, ERR_IO, "cannot write audit key %.150s: %s", path,
                     strerror(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    close(fd);
    snprintf(dir, sizeof dir, "%s", path);
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
out:
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

static int
audit_chain_key_check_file(int fd, const char *path, struct err *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return err_set(err, ERR_IO, "cannot stat audit key %.150s: %s", path,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, ERR_INVALID,
                       "audit key %.150s is not a regular file", path);
    if ((st.st_mode & 077) != 0)
        return err_set(err, ERR_DENIED,
                       "audit key %.150s has mode %04o: only its owner may "
                       "read it (chmod 600 %.150s)",
                       path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_uid != geteuid())
        return err_set(err, ERR_DENIED,
                       "audit key %.150s belongs to uid %u, not to the user "
                       "running labgate (uid %u)",
                       path, (unsigned)st.st_uid, (unsigned)geteuid());
    return 0;
}

static int
audit_chain_key_read(int fd, const char *path, struct audit_key *out,
                     struct err *err)
{
    char text[AUDIT_KEY_TEXT_MAX];
    ssize_t n = read(fd, text, sizeof text - 1);
    size_t len;
    int rc = 0;

    if (n < 0)
        return err_set(err, ERR_IO, "cannot read audit key %.150s: %s", path,
                       strerror(errno));
    text[n] = '\0';
    len = (size_t)n;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len != 2 * AUDIT_CHAIN_LEN ||
        hex_decode(text, AUDIT_CHAIN_LEN, out->secret) != 0)
        rc = err_set(err, ERR_INVALID,
                     "audit key %.150s: expected 64 hexadecimal digits", path);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

/* check = HMAC(key, "key check"); the id is its first 8 bytes. */
static int
audit_chain_key_derive(struct audit_key *k, struct err *err)
{
    struct audit_mac *m;
    int rc;

    if (audit_chain_mac_new(k, &m, err) != 0)
        return err->code;
    rc = audit_chain_label(m, "key check", 0, NULL, 0, k->check);
    audit_chain_mac_free(m);
    if (rc != 0)
        return err_set(err, rc, "cannot derive the audit key id");
    hex_encode(k->check, (AUDIT_KEY_ID_HEX - 1) / 2, k->id);
    return 0;
}

int
audit_chain_key_load(const char *path, int create, struct audit_key *out,
                     int *created, struct err *err)
{
    int fd, rc;

    memset(out, 0, sizeof *out);
    if (created != NULL)
        *created = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (audit_chain_key_create(path, err) != 0)
            return err->code;
        if (created != NULL)
            *created = 1;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        if (errno == ENOENT)
            return err_set(err, ERR_NOTFOUND, "audit key %.150s does not exist",
                           path);
        return err_set(err, ERR_IO, "cannot open audit key %.150s: %s", path,
                       strerror(errno));
    }
    rc = audit_chain_key_check_file(fd, path, err);
    if (rc == 0)
        rc = audit_chain_key_read(fd, path, out, err);
    close(fd);
    if (rc == 0)
        rc = audit_chain_key_derive(out, err);
    if (rc != 0)
        audit_chain_key_wipe(out);
    return rc;
}

int
audit_chain_mac_new(const struct audit_key *k, struct audit_mac **out,
                    struct err *err)
{
    OSSL_PARAM params[2];
    struct audit_mac *m = calloc(1, sizeof *m);
    char digest[] = "SHA256";

    if (m == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    m->ctx = m->mac ? EVP_MAC_CTX_new(m->mac) : NULL;
    if (m->ctx == NULL ||
        EVP_MAC_init(m->ctx, k->secret, sizeof k->secret, params) != 1) {
        audit_chain_mac_free(m);
        return err_set(err, ERR_INTERNAL, "OpenSSL has no HMAC-SHA-256");
    }
    *out = m;
    return 0;
}

void
audit_chain_mac_free(struct audit_mac *m)
{
    if (m == NULL)
        return;
    EVP_MAC_CTX_free(m->ctx);
    EVP_MAC_free(m->mac);
    buf_free(&m->enc);
    free(m);
}

static void
audit_chain_put(struct audit_mac *m, const void *p, size_t n)
{
    if (buf_append(&m->enc, p, n) != 0)
        m->oom = 1;
}

static void
audit_chain_put_u64(struct audit_mac *m, uint64_t v)
{
    unsigned char be[8];

    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(v >> (56 - 8 * i));
    audit_chain_put(m, be, sizeof be);
}

/* A string: 1 byte NULL/present, then (if present) length and bytes. */
static void
audit_chain_put_text(struct audit_mac *m, const char *s, size_t n)
{
    unsigned char tag = s != NULL;

    audit_chain_put(m, &tag, 1);
    if (s == NULL)
        return;
    audit_chain_put_u64(m, n);
    audit_chain_put(m, s, n);
}

static void
audit_chain_start(struct audit_mac *m, const char *magic, size_t n)
{
    buf_reset(&m->enc);
    m->oom = 0;
    audit_chain_put(m, magic, n);
}

/* MAC the encoding collected in m->enc into out. */
static int
audit_chain_finish(struct audit_mac *m, unsigned char *out)
{
    size_t outl = 0;

    if (m->oom || m->enc.data == NULL)
        return ERR_NOMEM;
    if (EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(m->ctx, (const unsigned char *)m->enc.data,
                       m->enc.len) != 1 ||
        EVP_MAC_final(m->ctx, out, &outl, AUDIT_CHAIN_LEN) != 1 ||
        outl != AUDIT_CHAIN_LEN)
        return ERR_INTERNAL;
    return 0;
}

int
audit_chain_row(struct audit_mac *m, const unsigned char *prev,
                const struct audit_chain_row *row, unsigned char *out)
{
    uint64_t nident = 0;

    if (row->ntext > AUDIT_CHAIN_TEXT_MAX ||
        row->ntext != AUDIT_COL_IDENT + result_ident_field_count)
        return ERR_INTERNAL;
    /* The magic's NUL ends it, so no label encoding can collide. */
    audit_chain_start(m, AUDIT_CHAIN_MAGIC " row",
                      sizeof AUDIT_CHAIN_MAGIC + 4);
    audit_chain_put(m, prev, AUDIT_CHAIN_LEN);
    audit_chain_put_u64(m, (uint64_t)row->id);
    audit_chain_put_u64(m, (uint64_t)row->received_ms);
    for (size_t i = 0; i < AUDIT_COL_IDENT; i++)
        audit_chain_put_text(m, row->text[i], row->len[i]);
    for (size_t i = AUDIT_COL_IDENT; i < row->ntext; i++)
        nident += row->text[i] != NULL;
    audit_chain_put_u64(m, nident);
    for (size_t i = AUDIT_COL_IDENT; i < row->ntext; i++) {
        const char *name = result_ident_fields[i - AUDIT_COL_IDENT].name;
        if (row->text[i] == NULL)
            continue;
        audit_chain_put_text(m, name, strlen(name));
        audit_chain_put_text(m, row->text[i], row->len[i]);
    }
    return audit_chain_finish(m, out);
}

int
audit_chain_label(struct audit_mac *m, const char *label, int64_t n,
                  const unsigned char *data, size_t len, unsigned char *out)
{
    audit_chain_start(m, AUDIT_CHAIN_MAGIC " ", sizeof AUDIT_CHAIN_MAGIC);
    audit_chain_put_text(m, label, strlen(label));
    audit_chain_put_u64(m, (uint64_t)n);
    audit_chain_put_text(m, data ? (const char *)data : "", len);
    return audit_chain_finish(m, out);
}

static void
audit_chain_set(struct audit_chain_row *row, size_t i, const char *s)
{
    row->text[i] = s;
    row->len[i] = s ? strlen(s) : 0;
}

int
audit_chain_row_from_result(const struct result *r, struct audit_chain_row *row)
{
    if (AUDIT_COL_IDENT + result_ident_field_count > AUDIT_CHAIN_TEXT_MAX)
        return ERR_INTERNAL;
    row->id = r->id;
    row->received_ms = r->received_ms;
    row->ntext = AUDIT_COL_IDENT + result_ident_field_count;
    audit_chain_set(row, AUDIT_COL_ROUTE, r->route);
    audit_chain_set(row, AUDIT_COL_AUTH, result_auth_name(r->auth));
    audit_chain_set(row, AUDIT_COL_SUITE, r->suite);
    audit_chain_set(row, AUDIT_COL_STATUS, result_status_name(r->status));
    audit_chain_set(row, AUDIT_COL_PAYLOAD, r->payload);
    audit_chain_set(row, AUDIT_COL_PRINCIPAL, r->principal);
    for (size_t i = 0; i < result_ident_field_count; i++)
        audit_chain_set(row, AUDIT_COL_IDENT + i,
                        *result_ident_slot((struct result_identity *)&r->ident,
                                           &result_ident_fields[i]));
    return 0;
}
