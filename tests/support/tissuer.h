/*
 * A test OpenID Connect issuer: a real HTTP server on 127.0.0.1 (port
 * chosen by the kernel) that serves a discovery document and a JWKS, with
 * keys generated at start by OpenSSL, and that mints tokens for tests.
 *
 *   GET /.well-known/openid-configuration -> {"issuer": URL,
 *                                             "jwks_uri": URL/.well-known/jwks}
 *   GET /.well-known/jwks                 -> {"keys": [...published keys]}
 *
 * The issuer URL is "http://127.0.0.1:PORT" (no trailing slash), so a
 * server trusting it needs "allow_insecure_http": true.  Tokens can be
 * minted with any header and claims, including forgeries (alg none, HMAC
 * keyed with the public key's PEM, foreign jku, ...), so tests can prove
 * the verifier refuses them.  Keys can be added, withdrawn from the JWKS
 * (while still signing), and the server can go down and come back on the
 * same port.  Requests for each document are counted.
 *
 * Every function aborts the test process on an internal failure (OpenSSL
 * or CivetWeb refusing), so callers need not check results; returned
 * strings are heap-allocated and freed by the caller with free().
 */
#ifndef LABGATE_TISSUER_H
#define LABGATE_TISSUER_H

struct tissuer;

enum tissuer_kty { TISSUER_RSA2048, TISSUER_EC_P256, TISSUER_EC_P384 };

/* Kids of the two keys every issuer starts with (both published). */
#define TISSUER_KID_RSA "rsa-1"
#define TISSUER_KID_EC "ec-1"

/* Start an issuer with an RSA 2048 key "rsa-1" and a P-256 key "ec-1". */
struct tissuer *tissuer_start(void);

/* Stop serving and free everything. ti may be NULL. */
void tissuer_free(struct tissuer *ti);

/* The issuer URL, "http://127.0.0.1:PORT" (owned by ti). */
const char *tissuer_url(const struct tissuer *ti);

/* The JWKS URL, "http://127.0.0.1:PORT/.well-known/jwks" (owned by ti). */
const char *tissuer_jwks_uri(const struct tissuer *ti);

/* Generate a new key kid of type kty and publish it. */
void tissuer_add_key(struct tissuer *ti, const char *kid, enum tissuer_kty kty);

/* Publish (1) or withdraw (0) key kid; a withdrawn key still signs. */
void tissuer_publish(struct tissuer *ti, const char *kid, int published);

/*
 * Cache-Control max-age sent with the JWKS and discovery document, in
 * seconds; negative sends no Cache-Control (the default).
 */
void tissuer_set_max_age(struct tissuer *ti, long seconds);

/*
 * Answer both documents with this HTTP status and an error body instead
 * (requests are still counted); 200 restores normal service.
 */
void tissuer_set_status(struct tissuer *ti, int status);

/* Stop listening (connections are refused) / listen again, same port. */
void tissuer_down(struct tissuer *ti);
void tissuer_up(struct tissuer *ti);

/* Requests served so far for the JWKS / the discovery document. */
int tissuer_jwks_requests(struct tissuer *ti);
int tissuer_discovery_requests(struct tissuer *ti);

/*
 * A compact token: base64url(header).base64url(claims).signature, the
 * header and claims JSON texts used byte for byte.  The signature follows
 * the header's "alg": RS256/384/512 and ES256/384 sign with key kid (no
 * check that they fit: forging is the point), HS256/384/512 use the PEM
 * text of kid's public key as the HMAC secret, "none" (or anything else)
 * leaves the signature empty.
 */
char *tissuer_sign(struct tissuer *ti, const char *kid, const char *header,
                   const char *claims);

/*
 * A token for claims signed by kid with the key's natural algorithm
 * (RS256, ES256 or ES384) and header {"typ":"JWT","alg":...,"kid":kid}.
 */
char *tissuer_token(struct tissuer *ti, const char *kid, const char *claims);

/*
 * Claims shaped like a GitHub Actions token from this issuer for
 * repository "octo-org/octo-repo" on refs/heads/main: iss, aud (aud_json
 * is inserted as is, e.g. "\"lab-api\"" or "[\"a\",\"lab-api\"]"), sub,
 * string ids, iat/nbf now and exp now + exp_in seconds.  extra (may be
 * NULL or "") is appended inside the object, e.g. ",\"scope\":\"x\"".
 */
char *tissuer_github_claims(struct tissuer *ti, const char *aud_json,
                            long exp_in, const char *extra);

/* The PEM text of kid's public key (SubjectPublicKeyInfo). */
char *tissuer_public_pem(struct tissuer *ti, const char *kid);

#endif
