// Package ldap serves the enthub directory over LDAPv3 (RFC 4511), read-only,
// in the SDET shape school applications expect (GRR, PMB, SPIP, Chamilo,
// Moodle, mail and file servers).
//
// # Wiring
//
//	srv, err := ldap.NewServer(cfg, store, ldap.WithLogger(log), ldap.WithAuditor(a), ldap.WithClock(now))
//	go srv.ListenAndServe(ctx)   // or Serve(ctx, l) / ServeTLS(ctx, l) on your own listeners
//	...
//	srv.Close()
//
// Serve loads the read model before accepting, then polls the store's
// Generation every Config.ReloadInterval and rebuilds the model when it
// moved; Reload forces a rebuild (e.g. right after an import). A rebuild
// happens beside the served model and is swapped atomically, so searches
// never see half a model; memory peaks at two models during a rebuild.
//
// # Protocol
//
// A lean layer on BER written here (ber.go, fuzzed by FuzzMessage and
// FuzzFilter): the measured gldap numbers (toolchain.md §4.4) were below
// slapd's, and a read-only server over an in-memory model needs only a
// small part of a server library. Supported: simple bind; search with base,
// one, subtree (and subordinates) scopes; every filter type — equality,
// substrings, >=, <=, presence, approx (as equality), and, or, not,
// extensible match (known matching rules by name or OID, :dn: included;
// an unknown rule makes the item Undefined); attribute selection (*, +,
// 1.1, names, typesOnly); size and time limits; the paged results control
// (RFC 2696); compare; Who-am-I (RFC 4532); StartTLS and LDAPS; abandon;
// unbind. Add, modify, delete and modrdn answer unwillingToPerform: the
// directory is fed by the AAF imports and the portal. An unknown critical
// control answers unavailableCriticalExtension (ManageDsaIT is accepted:
// there are no referrals). Malformed BER, an unknown operation or an
// oversized message end that connection only (with a notice of
// disconnection); a filter over MaxFilterItems items or MaxFilterDepth
// levels is refused with unwillingToPerform.
//
// # Tree (base DN configurable, default dc=enthub)
//
//	dc=enthub                                   domain
//	├── ou=structures
//	│   └── ENTStructureUAI=<UAI>               organizationalUnit, ENTStructure, ENTEtablissement
//	├── ou=groups
//	│   ├── cn=<UAI>$<code division>            groupOfNames, ENTClasse   (member: student and teacher DNs)
//	│   ├── cn=<UAI>$<code groupe>              groupOfNames, ENTGroupe
//	│   ├── cn=<UAI>_<ELV|TUT|ENS|DOC|DIR|EVS|ETA|COL|INV>   groupOfNames, ENTProfil (one per school and profile)
//	│   └── cn=<space code>                     groupOfNames (a profile space across schools, e.g. cn=espace-ati)
//	└── ou=people
//	    └── uid=<person id>                     inetOrgPerson, ENTPerson [ENTEleve] [ENTAux…] [eduMember]
//
// The person RDN is the stable opaque person id, never the login (which is
// ENTPersonLogin and may change). A structure without UAI, or whose UAI is
// taken, is named by its id. A group cn that collides (a class and a group
// with the same code) gets "$classe"/"$groupe" appended.
//
// Profile spaces (directory.Space, "Espace ATI") are groups of accounts
// across schools. The SDET defines no entry for them: they are served under
// ou=groups at the département's level, cn=<code> (letters, digits and
// hyphens, so never a school group's cn), as plain groupOfNames with the
// space's name in description and member DNs; their members carry them in
// memberOf/isMemberOf like their classes. A space without members is not
// served (groupOfNames requires one). An identity limited to schools
// does not see them, as they belong to none.
//
// Structure attributes: ou (the name), ENTStructureUAI, ENTStructureNomCourant,
// ENTStructureJointure, ENTStructureTypeStruct, ENTStructureSIREN and (for
// schools) ENTEtablissementMinistereTutelle as the AAF delivered them,
// ENTEtablissementContrat (the MUST attributes of the SDET classes: one the
// AAF leaves empty is served as "INCONNU", as are the MUST attributes of
// ENTEleve a student lacks; attributes of a class an entry does not carry —
// an AAF ENTEleve* value kept on a person who is no student here — are not
// served: every entry is valid against the schema and loads into a
// checking OpenLDAP), …Bassin,
// …StructRattachFctl, ENTStructureClasses and ENTStructureGroupes
// ("code$libellé"), l, postalCode.
//
// Person attributes: uid, cn and displayName ("Prénom Nom"), sn, givenName,
// mail, personalTitle, telephoneNumber, mobile, street/postalCode/l,
// ENTPersonLogin, ENTPersonJointure ("<JointureSource>$<AAF id>", or
// "ENT$<id>" for guests and local persons, as the SDET says for manual
// entries), ENTPersonProfils (national codes, below), ENTPersonStructRattach
// (structure DN: the AAF's ENTPersonStructRattach when the importer keeps it
// in Person.Extra, else the school of the student persona, else the first
// persona's structure), ENTPersonFonctions ("<structure DN>$code$libellé$
// code discipline$libellé discipline"), ENTPersonDateNaissance (JJ/MM/AAAA),
// ENTPersonNomPatro, ENTPersonAutresPrenoms, ENTPersonAdresse/CodePostal/
// Ville/Pays, ENTPersonAutresMails (the personal e-mail); students:
// ENTEleveClasses and ENTEleveGroupes ("<structure DN>$<code>"),
// ENTEleveMEF, ENTEleveLibelleMEF, ENTEleveINE, ENTElevePersRelEleve
// ("<parent AAF id>$lien$resp. financier$resp. légal$contact$paiement",
// 1/0 flags), ENTEleveMajeur (O/N, computed from the birth date unless
// delivered); parents: ENTAuxPersRelEleveEleve (children's DNs); teachers:
// ENTAuxEnsClasses, ENTAuxEnsGroupes, ENTAuxEnsClassesMatieres and
// ENTAuxEnsGroupesMatieres ("<structure DN>$<code>$<matière>"),
// ENTAuxEnsClassesPrincipal; isMemberOf (and the operational memberOf) with
// the DNs of the person's classes, groups and profile groups. The AAF
// attributes the model has no field for are served from Person.Extra when
// their name is a served SDET attribute (ENTPersonSexe, ENTEleveStatutEleve,
// ENTEleveNivFormation, ENTEleveFiliere, ENTEleveCodeEnseignements,
// ENTAuxEnsMatiereEnseignEtab, ENTAuxEnsMEF, …); for the "$" strings the
// AAF delivers with a structure AAF id first, that id is replaced by the
// structure DN. Operational: entryUUID (the id when it is a UUID, else a
// name-based UUID), createTimestamp, modifyTimestamp, entryDN,
// subschemaSubentry, hasSubordinates, structuralObjectClass, memberOf.
//
// # National profile codes
//
//	enthub profile   ENTPersonProfils   legacy (LegacyProfileCodes)   auxiliary class
//	eleve            National_ELV       National_1                    (structural ENTEleve)
//	parent           National_TUT       National_2                    ENTAuxPersRelEleve
//	enseignant       National_ENS       National_3                    ENTAuxEnseignant
//	documentaliste   National_DOC       —                             ENTAuxEnseignant
//	direction        National_DIR       National_4                    ENTAuxNonEnsEtab
//	vie_scolaire     National_EVS       National_5                    ENTAuxNonEnsEtab
//	personnel        National_ETA       National_6                    ENTAuxNonEnsEtab
//	collectivite     National_COL       —                             ENTAuxNonEnsCollLoc
//	invite           (none)             —                             ENTAuxPersExt
//
// Unsure (the SDET annex is not public, see sdet-ldap.md §3 and §5):
// direction staff sometimes carry ENTAuxEnseignant at RECIA; the legacy
// numeric code of DOC and COL is not confirmed (National_8/9 are vendor
// specific), so none is emitted; guests have no national profile, and
// ENTAuxPersExt ("personnes extérieures") is our reading; National_ACA is
// never produced (no rectorat profile in enthub).
//
// # Schema and OIDs
//
// cn=subschema publishes the attribute types, object classes, syntaxes and
// matching rules actually served, with the SDET names. The SDET OIDs hang
// under Arc (a UUID OID under 2.25, see its comment), keeping the MENESR
// relative layout and increments: ENTPersonJointure is Arc.1.1.1.111,
// ENTPerson Arc.1.1.2.1. Standard types keep their standard OIDs.
//
// # Access control
//
// Service accounts (Config.ServiceAccounts) bind with argon2id or {SSHA}
// hashes and read what their Access allows: subtrees, structures (UAIs),
// attributes (a filter on an unreadable attribute is Undefined, so values
// cannot be probed), disabled accounts or not. Anonymous binds succeed but
// read only the rootDSE and cn=subschema unless Config.Anonymous. A person
// may bind with their own DN only when their account has a local password
// (guests) and is active, and then reads only their own entry. Failed binds
// are throttled per bind DN and per source address with exponential backoff
// (Limits) and reported to the Auditor as "bind.failed" events.
//
// # Speed
//
// Searches read an immutable model, without locking it. A search whose
// candidates are few (an indexed equality, a base search; inlineCandidates)
// runs on the connection's reading goroutine; larger ones get their own
// goroutine so that abandon and later requests are read meanwhile. Encoding
// goes to a pooled buffer, one write per response batch; person DNs come
// from a dense RDN arena and the members of a group are encoded once per
// model (memberValues), so a search allocates a few hundred bytes and the
// garbage collector, whose every cycle marks the whole model, stays idle.
// Indexes: uid, ENTPersonLogin, ENTPersonJointure, mail, ENTStructureUAI,
// member, isMemberOf/memberOf, ENTPersonStructRattach,
// ENTAuxPersRelEleveEleve (filter.go, plan). test/bench/ldap.sh compares the
// front with slapd on the same data and the same client.
//
// # Push mode
//
// A Pusher (push.go) mirrors the served tree into an external LDAP server
// after every model swap: incremental adds, modifies and deletes against a
// per-DN hash of what the remote acknowledged, idempotent, and resumed
// after a failure by first reading the remote tree again (see PushConfig).
package ldap
