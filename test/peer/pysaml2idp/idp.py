#!/usr/bin/python3
"""A SAML2 identity provider built on pysaml2 (Debian python3-pysaml2, signing
and encrypting through xmlsec1): an upstream that shares no code with enthub,
for enthub's SAML service-provider tests. It behaves like EduConnect where it
matters to the SP: it requires signed AuthnRequests (HTTP-Redirect), signs the
assertion (RSA-SHA256), encrypts it to the SP's encryption certificate
(RSA-OAEP key transport, AES block cipher), answers with the HTTP-POST binding,
and releases attributes under their OID names.

Run by test/peer.PySAML2IdP with a JSON configuration on stdin:
  {"port": 8123, "key_file": ..., "cert_file": ..., "sp_metadata_file": ...,
   "cipher": "aes256-cbc" | "aes128-gcm" | "aes256-gcm",
   "users": {"login": {"attribute name": ["value", ...], ...}, ...}}
It prints "READY <base URL>" once it listens on 127.0.0.1. Endpoints:
  GET  /metadata          its metadata
  GET  /sso/redirect      a signed AuthnRequest -> a login form (pick a user)
  POST /login             -> the auto-posted Response to the SP's ACS
  GET  /slo               the SP's signed LogoutRequest -> a signed LogoutResponse to the SP
                          (Redirect); or the SP's LogoutResponse to /logout -> 200 "logged out"
  GET  /logout?user=LOGIN IdP-initiated logout: a signed LogoutRequest for that user's last NameID
                          and session, redirected to the SP's SingleLogoutService
  GET  /events            what happened, as JSON: logins, logouts received, logout answers
"""
import html
import json
import secrets
import sys
from functools import partial
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server, WSGIRequestHandler

import saml2.entity
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server
from saml2.sigver import pre_encryption_part, verify_redirect_signature
from saml2.xmldsig import SIG_RSA_SHA256

CIPHERS = {
    # algorithm URI, xmlsec1 --session-key
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
}


def main():
    conf = json.load(sys.stdin)
    base = "http://127.0.0.1:%d" % conf["port"]
    cfg = IdPConfig()
    cfg.load({
        "entityid": base + "/idp",
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "key_file": conf["key_file"],
        "cert_file": conf["cert_file"],
        "metadata": {"local": [conf["sp_metadata_file"]]},
        "service": {"idp": {
            "endpoints": {
                "single_sign_on_service": [(base + "/sso/redirect", BINDING_HTTP_REDIRECT)],
                "single_logout_service": [(base + "/slo", BINDING_HTTP_REDIRECT)],
            },
            "name_id_format": [NAMEID_FORMAT_TRANSIENT],
            # pysaml2 would look for an XML signature inside a Redirect
            # AuthnRequest; the Redirect binding signs the query string,
            # checked below with verify_redirect_signature (as SATOSA does).
            "want_authn_requests_signed": False,
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                   "name_form": NAME_FORMAT_URI}},
        }},
    })
    idp = Server(config=cfg)
    # pysaml2 7 encrypts with 3DES (tripledes-cbc) and offers no setting for
    # it; EduConnect uses AES, and enthub refuses 3DES. The template and
    # xmlsec1's session key are chosen here instead.
    alg, session_key = CIPHERS[conf.get("cipher") or "aes256-cbc"]
    saml2.entity.pre_encryption_part = partial(pre_encryption_part, msg_enc=alg)
    idp.sec.encrypt_assertion = partial(idp.sec.encrypt_assertion, key_type=session_key)
    users = conf["users"]
    pending = {}
    sessions = {}  # login -> (NameID, SP entity id) of its last login
    events = []

    def sp_signed(q, sp):
        certs = idp.metadata.certs(sp, "spsso", "signing")
        return "Signature" in q and any(verify_redirect_signature(q, idp.sec.sec_backend, cert=c) for c in certs)

    def sp_slo(sp):
        return idp.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]

    def app(environ, start):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]

        def reply(status, body, ctype="text/html; charset=utf-8"):
            start(status, [("Content-Type", ctype), ("Cache-Control", "no-store")])
            return [body.encode("utf-8")]

        try:
            if path == "/metadata":
                return reply("200 OK", str(entity_descriptor(cfg)), "application/samlmetadata+xml")
            if path == "/sso/redirect" and method == "GET":
                q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
                req = idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
                sp = req.message.issuer.text
                if not sp_signed(q, sp):
                    return reply("403 Forbidden", "AuthnRequest not signed by the SP\n", "text/plain")
                key = secrets.token_urlsafe(16)
                pending[key] = (req.message, q.get("RelayState", ""))
                options = "".join('<option value="%s">%s</option>' % (html.escape(u), html.escape(u)) for u in sorted(users))
                return reply("200 OK", (
                    '<!DOCTYPE html><html lang="fr"><head><title>pysaml2 IdP (test peer)</title></head><body>'
                    '<form method="post" action="/login"><input type="hidden" name="key" value="%s">'
                    '<label>Compte <select name="user">%s</select></label>'
                    '<button type="submit">Se connecter</button></form></body></html>') % (key, options))
            if path == "/login" and method == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
                req, relay = pending.pop(form["key"])
                login = form["user"]
                name_id = NameID(format=NAMEID_FORMAT_TRANSIENT, text=secrets.token_hex(16))
                sessions[login] = (name_id, req.issuer.text)
                events.append({"event": "login", "user": login, "name_id": name_id.text})
                resp = idp.create_authn_response(
                    users[login], req.id, req.assertion_consumer_service_url, req.issuer.text,
                    name_id=name_id,
                    authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
                    sign_assertion=True, sign_response=False,
                    encrypt_assertion=True, encrypt_assertion_self_contained=True,
                    encrypt_cert_assertion=None,
                    sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                    digest_alg="http://www.w3.org/2001/04/xmlenc#sha256")
                info = idp.apply_binding(BINDING_HTTP_POST, str(resp), req.assertion_consumer_service_url,
                                         relay, response=True)
                return reply("200 OK", info["data"])
            if path == "/slo" and method == "GET":
                q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
                if "SAMLRequest" in q:
                    req = idp.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
                    sp = req.message.issuer.text
                    if not sp_signed(q, sp):
                        return reply("403 Forbidden", "LogoutRequest not signed by the SP\n", "text/plain")
                    events.append({"event": "logout_request", "name_id": req.message.name_id.text,
                                   "session_index": [s.text for s in req.message.session_index]})
                    resp = idp.create_logout_response(req.message, [BINDING_HTTP_REDIRECT])
                    info = idp.apply_binding(BINDING_HTTP_REDIRECT, str(resp), sp_slo(sp), q.get("RelayState", ""),
                                             response=True, sign=True, sigalg=SIG_RSA_SHA256)
                    start("302 Found", info["headers"])
                    return [b""]
                resp = idp.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
                sp = resp.response.issuer.text
                signed = sp_signed(q, sp)
                events.append({"event": "logout_response", "in_response_to": resp.response.in_response_to,
                               "status": resp.response.status.status_code.value, "signed": signed})
                if not signed:
                    return reply("403 Forbidden", "LogoutResponse not signed by the SP\n", "text/plain")
                return reply("200 OK", "<p>logged out</p>")
            if path == "/logout" and method == "GET":
                q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
                name_id, sp = sessions[q["user"]]
                req_id, req = idp.create_logout_request(sp_slo(sp), sp, name_id=name_id, sign=False,
                                                        sign_alg=SIG_RSA_SHA256)
                events.append({"event": "logout_initiated", "id": req_id, "name_id": name_id.text})
                info = idp.apply_binding(BINDING_HTTP_REDIRECT, str(req), sp_slo(sp), "idp-relay",
                                         sign=True, sigalg=SIG_RSA_SHA256)
                start("302 Found", info["headers"])
                return [b""]
            if path == "/events":
                return reply("200 OK", json.dumps(events), "application/json")
            return reply("501 Not Implemented", "not implemented\n", "text/plain")
        except Exception as e:  # the test prints the log
            print("error: %r" % (e,), file=sys.stderr, flush=True)
            return reply("500 Internal Server Error", "error: %s\n" % e, "text/plain")

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            print(self.address_string(), *args, file=sys.stderr, flush=True)

    srv = make_server("127.0.0.1", conf["port"], app, handler_class=Quiet)
    print("READY " + base, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
