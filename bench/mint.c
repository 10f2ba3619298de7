/*
 * bench-mint: a static OIDC issuer for the JWT benchmarks.  It makes an
 * RSA 2048 key, writes the discovery document and the JWKS under
 * DIR/.well-known/ (served as plain files by any static HTTP server on
 * loopback), and writes COUNT distinct RS256 tokens, one a line, to
 * DIR/tokens.txt: GitHub Actions-shaped claims, each with its own jti and
 * run_id, valid for two hours.  The tokens are signed by one process per
 * core, each writing a contiguous range that main joins in order.
 *
 * usage: bench-mint DIR ISSUER_URL COUNT
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
mint_die(const char *what)
{
    fprintf(stderr, "bench-mint: %s\n", what);
    exit(1);
}

/* base64url without padding of n bytes into out (room for 4n/3+4). */
static void
mint_b64url(const unsigned char *p, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789-_";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

static void
mint_write(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/.well-known/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        mint_die("cannot write the issuer documents");
}

static void
mint_documents(EVP_PKEY *key, const char *dir, const char *issuer)
{
    unsigned char nbuf[512], ebuf[8];
    char n64[800], e64[16], text[2048];
    BIGNUM *n = NULL, *e = NULL;
    int nl, el;

    if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e))
        mint_die("cannot read the public key");
    nl = BN_bn2bin(n, nbuf);
    el = BN_bn2bin(e, ebuf);
    mint_b64url(nbuf, (size_t)nl, n64);
    mint_b64url(ebuf, (size_t)el, e64);
    snprintf(text, sizeof text,
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bench-1\",\"use\":\"sig\","
             "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}]}",
             n64, e64);
    mint_write(dir, "jwks", text);
    snprintf(text, sizeof text,
             "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/.well-known/jwks\"}", issuer,
             issuer);
    mint_write(dir, "openid-configuration", text);
    BN_free(n);
    BN_free(e);
}

/* Sign one token for run number i and print it as a line of out. */
static void
mint_token(EVP_PKEY *key, const char *issuer, long i, time_t now, FILE *out)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\","
                                 "\"kid\":\"bench-1\"}";
    char claims[1024], h64[128], c64[1400], msg[1600], s64[400];
    unsigned char sig[256];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"repo:bench-org/"
             "repo-%ld:ref:refs/heads/main\",\"repository\":\"bench-org/"
             "repo-%ld\",\"repository_owner\":\"bench-org\",\"run_id\":\"%ld\","
             "\"jti\":\"bench-%ld\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}",
             issuer, i % 64, i % 64, i, i, (long)now - 10, (long)now - 10,
             (long)now + 7200);
    mint_b64url((const unsigned char *)header, strlen(header), h64);
    mint_b64url((const unsigned char *)claims, strlen(claims), c64);
    snprintf(msg, sizeof msg, "%s.%s", h64, c64);
    if (md == NULL ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg,
                       strlen(msg)) != 1)
        mint_die("cannot sign");
    EVP_MD_CTX_free(md);
    mint_b64url(sig, siglen, s64);
    fprintf(out, "%s.%s\n", msg, s64);
}

/*
 * Write tokens [from, to) to path.  Signing is most of the cost (about
 * 0.5 ms a token), so main runs one of these per core in its own process.
 */
static void
mint_range(EVP_PKEY *key, const char *issuer, long from, long to, time_t now,
           const char *path)
{
    FILE *out = fopen(path, "w");

    if (out == NULL)
        mint_die("cannot write a token file");
    for (long i = from; i < to; i++)
        mint_token(key, issuer, i, now, out);
    if (fclose(out) != 0)
        mint_die("cannot write a token file");
}

/* Append the file at part to out and remove it. */
static void
mint_append(FILE *out, const char *part)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(part, "r");

    if (in == NULL)
        mint_die("cannot read a token file");
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            mint_die("cannot write tokens.txt");
    fclose(in);
    unlink(part);
}

int
main(int argc, char **argv)
{
    char path[1024], part[1100];
    EVP_PKEY *key;
    FILE *out;
    long count, procs = sysconf(_SC_NPROCESSORS_ONLN);
    time_t now = time(NULL);
    int failed = 0;

    if (argc != 4 || (count = strtol(argv[3], NULL, 10)) < 1) {
        fprintf(stderr, "usage: bench-mint DIR ISSUER_URL COUNT\n");
        return 2;
    }
    if (procs < 1)
        procs = 1;
    if (procs > 16)
        procs = 16;
    snprintf(path, sizeof path, "%s/.well-known", argv[1]);
    mkdir(path, 0755);
    key = EVP_RSA_gen(2048);
    if (key == NULL)
        mint_die("cannot make an RSA key");
    mint_documents(key, argv[1], argv[2]);
    snprintf(path, sizeof path, "%s/tokens.txt", argv[1]);
    for (long k = 0; k < procs; k++) {
        pid_t pid = fork();
        if (pid < 0)
            mint_die("cannot fork");
        if (pid == 0) {
            snprintf(part, sizeof part, "%s.%ld", path, k);
            mint_range(key, argv[2], count * k / procs, count * (k + 1) / procs,
                       now, part);
            _exit(0);
        }
    }
    for (long k = 0; k < procs; k++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
    }
    if (failed)
        mint_die("a minting process failed");
    /* The parts in order, so token i is line i + 1 as before. */
    out = fopen(path, "w");
    if (out == NULL)
        mint_die("cannot write tokens.txt");
    for (long k = 0; k < procs; k++) {
        snprintf(part, sizeof part, "%s.%ld", path, k);
        mint_append(out, part);
    }
    if (fclose(out) != 0)
        mint_die("cannot write tokens.txt");
    EVP_PKEY_free(key);
    return 0;
}
