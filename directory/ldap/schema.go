package ldap

import (
	"sort"
	"strings"
)

// Arc is the OID arc under which the SDET attribute types and object classes
// are published. The SDET deliberately leaves the arc to each "porteur de
// projet" (RECIA simply dropped it and uses 1.1.1.x, which is the RFC 4512
// "no OID" region). We have no IANA private enterprise number, so the arc is
// a UUID-derived OID under 2.25 (ITU-T X.667 / RFC 4122 §4): unique by
// construction, needing no registration. Below it, the MENESR relative
// layout is kept exactly: <arc>.<projet=1>.<usage=1>.<portée 1=global>.
// <type 1=attribute, 2=class>.<SDET increment>, so ENTPersonJointure is
// <arc>.1.1.1.111 and ENTPerson is <arc>.1.1.2.1, like RECIA's 1.1.1.1.111
// and 1.1.1.2.1. Clients match on names, never on these OIDs.
const Arc = "2.25.230193516141254672571115067702718938659"

const (
	sdetAttr  = Arc + ".1.1.1."
	sdetClass = Arc + ".1.1.2."
)

// Syntaxes (RFC 4517 and RFC 4530).
const (
	synDirectoryString = "1.3.6.1.4.1.1466.115.121.1.15"
	synIA5             = "1.3.6.1.4.1.1466.115.121.1.26"
	synDN              = "1.3.6.1.4.1.1466.115.121.1.12"
	synOID             = "1.3.6.1.4.1.1466.115.121.1.38"
	synTime            = "1.3.6.1.4.1.1466.115.121.1.24"
	synTel             = "1.3.6.1.4.1.1466.115.121.1.50"
	synInteger         = "1.3.6.1.4.1.1466.115.121.1.27"
	synAttrTypeDesc    = "1.3.6.1.4.1.1466.115.121.1.3"
	synOCDesc          = "1.3.6.1.4.1.1466.115.121.1.37"
	synUUID            = "1.3.6.1.1.16.1"
)

// match is how values of an attribute compare.
type match uint8

const (
	mCaseIgnore match = iota // caseIgnoreMatch / caseIgnoreIA5Match, with insignificant spaces
	mCaseExact               // caseExactMatch
	mDN                      // distinguishedNameMatch
	mOID                     // objectIdentifierMatch: names compare case-insensitively, OIDs map to names
	mTime                    // generalizedTimeMatch and its ordering
	mTel                     // telephoneNumberMatch: spaces and hyphens ignored
	mInteger                 // integerMatch
)

// attrID numbers the attribute types the server knows; the values index
// attrTypes.
type attrID uint8

const (
	aObjectClass attrID = iota
	aCN
	aSN
	aGivenName
	aDisplayName
	aMail
	aUID
	aPersonalTitle
	aTelephoneNumber
	aMobile
	aStreet
	aPostalCode
	aL
	aOU
	aDC
	aMember
	aDescription
	aIsMemberOf

	aENTPersonLogin
	aENTPersonJointure
	aENTPersonStructRattach
	aENTPersonProfils
	aENTPersonFonctions
	aENTPersonDateNaissance
	aENTPersonNomPatro
	aENTPersonAutresPrenoms
	aENTPersonSexe
	aENTPersonAdresse
	aENTPersonCodePostal
	aENTPersonVille
	aENTPersonPays
	aENTPersonAutresMails
	aENTEleveClasses
	aENTEleveGroupes
	aENTEleveMEF
	aENTEleveLibelleMEF
	aENTEleveINE
	aENTElevePersRelEleve
	aENTEleveMajeur
	aENTEleveStatutEleve
	aENTEleveNivFormation
	aENTEleveFiliere
	aENTEleveStructRattachId
	aENTEleveCodeEnseignements
	aENTEleveEnseignements
	aENTEleveBoursier
	aENTEleveRegime
	aENTEleveTransport
	aENTAuxPersRelEleveEleve
	aENTAuxEnsClasses
	aENTAuxEnsGroupes
	aENTAuxEnsClassesMatieres
	aENTAuxEnsGroupesMatieres
	aENTAuxEnsClassesPrincipal
	aENTAuxEnsMatiereEnseignEtab
	aENTAuxEnsCategoDiscipline
	aENTAuxEnsMEF
	aENTAuxNonEnsEtabService
	aENTAuxNonEnsCollLocService
	aENTStructureUAI
	aENTStructureNomCourant
	aENTStructureJointure
	aENTStructureTypeStruct
	aENTStructureClasses
	aENTStructureGroupes
	aENTEtablissementContrat
	aENTEtablissementBassin
	aENTEtablissementStructRattachFctl
	aENTStructureSIREN
	aENTEtablissementMinistereTutelle

	// operational
	aEntryUUID
	aCreateTimestamp
	aModifyTimestamp
	aSubschemaSubentry
	aEntryDN
	aHasSubordinates
	aMemberOf
	aStructuralObjectClass

	// rootDSE and subschema (operational, served only by those entries)
	aNamingContexts
	aSupportedLDAPVersion
	aSupportedControl
	aSupportedExtension
	aSupportedFeatures
	aSupportedSASLMechanisms
	aVendorName
	aVendorVersion
	aAttributeTypes
	aObjectClasses
	aLDAPSyntaxes
	aMatchingRules

	numAttrs
)

// attrType describes one attribute type as published in cn=subschema and
// as matched by filters.
type attrType struct {
	id          attrID
	name        string
	aliases     []string
	oid         string
	desc        string
	syntax      string
	equality    string
	substr      string
	ordering    string
	match       match
	single      bool
	operational bool
	// extra: the value is read from directory.Person.Extra under the
	// attribute's name, as the AAF delivered it.
	extra bool
	// structPrefixed: the AAF delivers "<structure AAF id>$…"; the server
	// replaces the first field by the structure DN (SDET form).
	structPrefixed bool
}

// attrTypes is indexed by attrID.
var attrTypes = buildAttrTypes()

func buildAttrTypes() []attrType {
	str := func(id attrID, name, oid, desc string, single bool) attrType {
		return attrType{id: id, name: name, oid: oid, desc: desc, syntax: synDirectoryString,
			equality: "caseIgnoreMatch", substr: "caseIgnoreSubstringsMatch", ordering: "caseIgnoreOrderingMatch",
			match: mCaseIgnore, single: single}
	}
	ia5 := func(id attrID, name, oid, desc string, single bool) attrType {
		a := str(id, name, oid, desc, single)
		a.syntax, a.equality, a.substr, a.ordering = synIA5, "caseIgnoreIA5Match", "caseIgnoreIA5SubstringsMatch", ""
		return a
	}
	dn := func(id attrID, name, oid, desc string, single bool) attrType {
		return attrType{id: id, name: name, oid: oid, desc: desc, syntax: synDN, equality: "distinguishedNameMatch",
			match: mDN, single: single}
	}
	sdet := func(id attrID, name string, n int, desc string, single bool) attrType {
		return str(id, name, sdetAttr+itoa(n), desc, single)
	}
	ext := func(a attrType) attrType { a.extra = true; return a }
	pre := func(a attrType) attrType { a.extra, a.structPrefixed = true, true; return a }
	op := func(a attrType) attrType { a.operational = true; return a }
	with := func(a attrType, aliases ...string) attrType { a.aliases = aliases; return a }

	ts := []attrType{
		{id: aObjectClass, name: "objectClass", oid: "2.5.4.0", syntax: synOID, equality: "objectIdentifierMatch", match: mOID},
		with(str(aCN, "cn", "2.5.4.3", "common name", false), "commonName"),
		with(str(aSN, "sn", "2.5.4.4", "surname (nom d'usage)", false), "surname"),
		with(str(aGivenName, "givenName", "2.5.4.42", "first name", false), "gn"),
		str(aDisplayName, "displayName", "2.16.840.1.113730.3.1.241", "display name", true),
		with(ia5(aMail, "mail", "0.9.2342.19200300.100.1.3", "e-mail address delivered by the AAF", false), "rfc822Mailbox"),
		with(str(aUID, "uid", "0.9.2342.19200300.100.1.1", "stable opaque identifier (never the login)", false), "userid"),
		str(aPersonalTitle, "personalTitle", "0.9.2342.19200300.100.1.40", "civility", false),
		{id: aTelephoneNumber, name: "telephoneNumber", oid: "2.5.4.20", syntax: synTel, equality: "telephoneNumberMatch",
			substr: "telephoneNumberSubstringsMatch", match: mTel},
		with(attrType{id: aMobile, name: "mobile", oid: "0.9.2342.19200300.100.1.41", syntax: synTel,
			equality: "telephoneNumberMatch", substr: "telephoneNumberSubstringsMatch", match: mTel}, "mobileTelephoneNumber"),
		with(str(aStreet, "street", "2.5.4.9", "street address", false), "streetAddress"),
		str(aPostalCode, "postalCode", "2.5.4.17", "postal code", false),
		with(str(aL, "l", "2.5.4.7", "locality", false), "localityName"),
		with(str(aOU, "ou", "2.5.4.11", "organizational unit", false), "organizationalUnitName"),
		with(ia5(aDC, "dc", "0.9.2342.19200300.100.1.25", "domain component", true), "domainComponent"),
		dn(aMember, "member", "2.5.4.31", "member DNs", false),
		str(aDescription, "description", "2.5.4.13", "description", false),
		{id: aIsMemberOf, name: "isMemberOf", oid: "1.3.6.1.4.1.5923.1.5.1.1",
			desc: "DNs of the groups (classes, groups, profiles) the entry belongs to", syntax: synDirectoryString,
			equality: "caseIgnoreMatch", substr: "caseIgnoreSubstringsMatch", match: mDN},

		sdet(aENTPersonLogin, "ENTPersonLogin", 109, "Login (identifiant de connexion a l ENT)", true),
		sdet(aENTPersonJointure, "ENTPersonJointure", 111, "Cles de jointure. Format : identifiant de la source$cle de jointure fournie", false),
		func() attrType {
			a := dn(aENTPersonStructRattach, "ENTPersonStructRattach", "", "Structure de rattachement: dn d une structure", true)
			a.oid = sdetAttr + "112"
			return a
		}(),
		sdet(aENTPersonProfils, "ENTPersonProfils", 114, "Liste des noms des profils de l utilisateur", false),
		sdet(aENTPersonFonctions, "ENTPersonFonctions", 169, "Fonctions (et disciplines de poste associees) dans des structures", false),
		sdet(aENTPersonDateNaissance, "ENTPersonDateNaissance", 113, "Date de naissance (JJ/MM/AAAA)", true),
		sdet(aENTPersonNomPatro, "ENTPersonNomPatro", 102, "Nom patronymique", true),
		sdet(aENTPersonAutresPrenoms, "ENTPersonAutresPrenoms", 101, "Autres prenoms", false),
		ext(sdet(aENTPersonSexe, "ENTPersonSexe", 103, "Sexe (M, F)", true)),
		sdet(aENTPersonAdresse, "ENTPersonAdresse", 105, "Adresse", true),
		sdet(aENTPersonCodePostal, "ENTPersonCodePostal", 106, "Code postal", true),
		sdet(aENTPersonVille, "ENTPersonVille", 107, "Ville", true),
		sdet(aENTPersonPays, "ENTPersonPays", 108, "Pays", true),
		sdet(aENTPersonAutresMails, "ENTPersonAutresMails", 175, "Autres adresses de courriel (saisies par l utilisateur)", false),
		sdet(aENTEleveClasses, "ENTEleveClasses", 135, "Classes: dn de l etablissement$code division", false),
		sdet(aENTEleveGroupes, "ENTEleveGroupes", 136, "Groupes: dn de l etablissement$code groupe", false),
		sdet(aENTEleveMEF, "ENTEleveMEF", 129, "Code MEF", true),
		sdet(aENTEleveLibelleMEF, "ENTEleveLibelleMEF", 130, "Libelle MEF", true),
		sdet(aENTEleveINE, "ENTEleveINE", 190, "Identifiant national eleve", true),
		sdet(aENTElevePersRelEleve, "ENTElevePersRelEleve", 185, "Personnes en relation: jointure$lien$resp. financier$resp. legal$contact$paiement", false),
		ext(sdet(aENTEleveMajeur, "ENTEleveMajeur", 143, "Majeur (O/N)", true)),
		ext(sdet(aENTEleveStatutEleve, "ENTEleveStatutEleve", 128, "Statut de l eleve", true)),
		ext(sdet(aENTEleveNivFormation, "ENTEleveNivFormation", 131, "Niveau de formation", true)),
		ext(sdet(aENTEleveFiliere, "ENTEleveFiliere", 132, "Filiere", true)),
		ext(sdet(aENTEleveStructRattachId, "ENTEleveStructRattachId", 178, "Identifiant de l eleve dans la structure", true)),
		ext(sdet(aENTEleveCodeEnseignements, "ENTEleveCodeEnseignements", 186, "Codes des enseignements suivis", false)),
		ext(sdet(aENTEleveEnseignements, "ENTEleveEnseignements", 134, "Enseignements suivis", false)),
		ext(sdet(aENTEleveBoursier, "ENTEleveBoursier", 125, "Boursier (O/N)", true)),
		ext(sdet(aENTEleveRegime, "ENTEleveRegime", 126, "Regime", true)),
		ext(sdet(aENTEleveTransport, "ENTEleveTransport", 127, "Transport", true)),
		func() attrType {
			a := dn(aENTAuxPersRelEleveEleve, "ENTAuxPersRelEleveEleve", "", "Eleves concernes", false)
			a.oid = sdetAttr + "144"
			return a
		}(),
		sdet(aENTAuxEnsClasses, "ENTAuxEnsClasses", 148, "Classes: dn de l etablissement$code division", false),
		sdet(aENTAuxEnsGroupes, "ENTAuxEnsGroupes", 149, "Groupes: dn de l etablissement$code groupe", false),
		sdet(aENTAuxEnsClassesMatieres, "ENTAuxEnsClassesMatieres", 179, "dn de l etablissement$code division$code matiere", false),
		sdet(aENTAuxEnsGroupesMatieres, "ENTAuxEnsGroupesMatieres", 180, "dn de l etablissement$code groupe$code matiere", false),
		sdet(aENTAuxEnsClassesPrincipal, "ENTAuxEnsClassesPrincipal", 150, "Professeur principal: dn de l etablissement$code division", false),
		pre(sdet(aENTAuxEnsMatiereEnseignEtab, "ENTAuxEnsMatiereEnseignEtab", 147, "dn de l etablissement$matiere", false)),
		ext(sdet(aENTAuxEnsCategoDiscipline, "ENTAuxEnsCategoDiscipline", 173, "Categorie de discipline", false)),
		pre(sdet(aENTAuxEnsMEF, "ENTAuxEnsMEF", 168, "dn de l etablissement$code MEF$libelle", false)),
		ext(sdet(aENTAuxNonEnsEtabService, "ENTAuxNonEnsEtabService", 161, "Service", false)),
		ext(sdet(aENTAuxNonEnsCollLocService, "ENTAuxNonEnsCollLocService", 157, "Service", false)),
		sdet(aENTStructureUAI, "ENTStructureUAI", 306, "Code UAI (RNE)", true),
		sdet(aENTStructureNomCourant, "ENTStructureNomCourant", 301, "Nom courant", true),
		sdet(aENTStructureJointure, "ENTStructureJointure", 319, "Cles de jointure: source$id", false),
		sdet(aENTStructureTypeStruct, "ENTStructureTypeStruct", 320, "Type de structure", true),
		sdet(aENTStructureClasses, "ENTStructureClasses", 323, "Divisions: code$libelle", false),
		sdet(aENTStructureGroupes, "ENTStructureGroupes", 324, "Groupes: code$libelle", false),
		sdet(aENTEtablissementContrat, "ENTEtablissementContrat", 309, "Contrat (PU, PR…)", true),
		sdet(aENTEtablissementBassin, "ENTEtablissementBassin", 312, "Bassin", true),
		func() attrType {
			a := dn(aENTEtablissementStructRattachFctl, "ENTEtablissementStructRattachFctl", "", "Rattachement fonctionnel", false)
			a.oid = sdetAttr + "311"
			return a
		}(),
		sdet(aENTStructureSIREN, "ENTStructureSIREN", 303, "SIRET de la structure (14 chiffres)", true),
		sdet(aENTEtablissementMinistereTutelle, "ENTEtablissementMinistereTutelle", 308, "Ministere de tutelle", true),

		op(attrType{id: aEntryUUID, name: "entryUUID", oid: "1.3.6.1.1.16.4", syntax: synUUID, equality: "uuidMatch",
			ordering: "uuidOrderingMatch", match: mCaseIgnore, single: true}),
		op(attrType{id: aCreateTimestamp, name: "createTimestamp", oid: "2.5.18.1", syntax: synTime,
			equality: "generalizedTimeMatch", ordering: "generalizedTimeOrderingMatch", match: mTime, single: true}),
		op(attrType{id: aModifyTimestamp, name: "modifyTimestamp", oid: "2.5.18.2", syntax: synTime,
			equality: "generalizedTimeMatch", ordering: "generalizedTimeOrderingMatch", match: mTime, single: true}),
		op(dn(aSubschemaSubentry, "subschemaSubentry", "2.5.18.10", "", true)),
		op(dn(aEntryDN, "entryDN", "1.3.6.1.1.20", "DN of the entry", true)),
		op(attrType{id: aHasSubordinates, name: "hasSubordinates", oid: "2.5.18.9", syntax: "1.3.6.1.4.1.1466.115.121.1.7",
			equality: "booleanMatch", match: mCaseIgnore, single: true}),
		op(dn(aMemberOf, "memberOf", "1.2.840.113556.1.2.102", "groups the entry belongs to (same values as isMemberOf)", false)),
		op(attrType{id: aStructuralObjectClass, name: "structuralObjectClass", oid: "2.5.21.9", syntax: synOID,
			equality: "objectIdentifierMatch", match: mOID, single: true}),

		op(dn(aNamingContexts, "namingContexts", "1.3.6.1.4.1.1466.101.120.5", "", false)),
		op(attrType{id: aSupportedLDAPVersion, name: "supportedLDAPVersion", oid: "1.3.6.1.4.1.1466.101.120.15",
			syntax: synInteger, equality: "integerMatch", match: mInteger}),
		op(attrType{id: aSupportedControl, name: "supportedControl", oid: "1.3.6.1.4.1.1466.101.120.13", syntax: synOID,
			equality: "objectIdentifierMatch", match: mCaseIgnore}),
		op(attrType{id: aSupportedExtension, name: "supportedExtension", oid: "1.3.6.1.4.1.1466.101.120.7", syntax: synOID,
			equality: "objectIdentifierMatch", match: mCaseIgnore}),
		op(attrType{id: aSupportedFeatures, name: "supportedFeatures", oid: "1.3.6.1.4.1.4203.1.3.5", syntax: synOID,
			equality: "objectIdentifierMatch", match: mCaseIgnore}),
		op(attrType{id: aSupportedSASLMechanisms, name: "supportedSASLMechanisms", oid: "1.3.6.1.4.1.1466.101.120.14",
			syntax: synDirectoryString, match: mCaseIgnore}),
		op(attrType{id: aVendorName, name: "vendorName", oid: "1.3.6.1.1.4", syntax: synDirectoryString,
			equality: "caseExactMatch", match: mCaseExact, single: true}),
		op(attrType{id: aVendorVersion, name: "vendorVersion", oid: "1.3.6.1.1.5", syntax: synDirectoryString,
			equality: "caseExactMatch", match: mCaseExact, single: true}),
		op(attrType{id: aAttributeTypes, name: "attributeTypes", oid: "2.5.21.5", syntax: synAttrTypeDesc,
			equality: "objectIdentifierFirstComponentMatch", match: mCaseIgnore}),
		op(attrType{id: aObjectClasses, name: "objectClasses", oid: "2.5.21.6", syntax: synOCDesc,
			equality: "objectIdentifierFirstComponentMatch", match: mCaseIgnore}),
		op(attrType{id: aLDAPSyntaxes, name: "ldapSyntaxes", oid: "1.3.6.1.4.1.1466.101.120.16",
			syntax: "1.3.6.1.4.1.1466.115.121.1.54", equality: "objectIdentifierFirstComponentMatch", match: mCaseIgnore}),
		op(attrType{id: aMatchingRules, name: "matchingRules", oid: "2.5.21.4", syntax: "1.3.6.1.4.1.1466.115.121.1.30",
			equality: "objectIdentifierFirstComponentMatch", match: mCaseIgnore}),
	}
	out := make([]attrType, numAttrs)
	for _, a := range ts {
		if a.syntax == synDN && a.equality == "" {
			a.equality = "distinguishedNameMatch"
		}
		out[a.id] = a
	}
	for i := range out {
		if out[i].name == "" {
			panic("ldap: attribute type " + itoa(i) + " is not described")
		}
	}
	return out
}

// attrByName maps lower-case names, aliases and OIDs to attribute types.
var attrByName = func() map[string]*attrType {
	m := make(map[string]*attrType, 2*len(attrTypes))
	for i := range attrTypes {
		a := &attrTypes[i]
		m[strings.ToLower(a.name)] = a
		m[a.oid] = a
		for _, al := range a.aliases {
			m[strings.ToLower(al)] = a
		}
	}
	return m
}()

// lookupAttr finds an attribute type by name, alias or OID (case-insensitive);
// descriptions with options (cn;lang-fr) are not served and give nil.
func lookupAttr(name string) *attrType {
	if a, ok := attrByName[name]; ok {
		return a
	}
	var buf [64]byte
	if len(name) <= len(buf) {
		b := buf[:len(name)]
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		return attrByName[string(b)]
	}
	return attrByName[strings.ToLower(name)]
}

// objectClass describes one object class as published in cn=subschema.
type objectClass struct {
	name, oid, desc, sup, kind string
	must, may                  []attrID
}

// ocID numbers the object classes the entries carry.
type ocID uint8

const (
	ocTop ocID = iota
	ocPerson
	ocOrganizationalPerson
	ocInetOrgPerson
	ocENTPerson
	ocENTEleve
	ocENTAuxPersRelEleve
	ocENTAuxEnseignant
	ocENTAuxNonEnsEtab
	ocENTAuxNonEnsCollLoc
	ocENTAuxPersExt
	ocEduMember
	ocOrganizationalUnit
	ocENTStructure
	ocENTEtablissement
	ocGroupOfNames
	ocENTClasse
	ocENTGroupe
	ocENTProfil
	ocDomain
	ocSubschema
	ocExtensibleObject
	numOCs
)

var objectClasses = [numOCs]objectClass{
	ocTop:                  {name: "top", oid: "2.5.6.0", kind: "ABSTRACT", must: []attrID{aObjectClass}},
	ocPerson:               {name: "person", oid: "2.5.6.6", sup: "top", kind: "STRUCTURAL", must: []attrID{aSN, aCN}, may: []attrID{aTelephoneNumber, aDescription}},
	ocOrganizationalPerson: {name: "organizationalPerson", oid: "2.5.6.7", sup: "person", kind: "STRUCTURAL", may: []attrID{aStreet, aPostalCode, aL, aOU}},
	ocInetOrgPerson:        {name: "inetOrgPerson", oid: "2.16.840.1.113730.3.2.2", sup: "organizationalPerson", kind: "STRUCTURAL", may: []attrID{aDisplayName, aGivenName, aMail, aUID, aMobile}},
	ocENTPerson: {name: "ENTPerson", oid: sdetClass + "1", desc: "CDC MENESR : Attributs communs a toutes les personnes de l ENT",
		sup: "inetOrgPerson", kind: "STRUCTURAL", must: []attrID{aENTPersonLogin, aENTPersonJointure},
		may: []attrID{aPersonalTitle, aENTPersonAutresPrenoms, aENTPersonNomPatro, aENTPersonSexe, aENTPersonAdresse,
			aENTPersonCodePostal, aENTPersonVille, aENTPersonPays, aENTPersonStructRattach, aENTPersonFonctions,
			aENTPersonDateNaissance, aENTPersonAutresMails, aENTPersonProfils}},
	ocENTEleve: {name: "ENTEleve", oid: sdetClass + "2", desc: "CDC MENESR : eleves", sup: "ENTPerson", kind: "STRUCTURAL",
		must: []attrID{aENTEleveStatutEleve, aENTEleveMEF, aENTEleveLibelleMEF, aENTEleveNivFormation, aENTEleveFiliere,
			aENTEleveClasses, aENTEleveMajeur},
		may: []attrID{aENTElevePersRelEleve, aENTEleveBoursier, aENTEleveRegime, aENTEleveTransport,
			aENTEleveEnseignements, aENTEleveCodeEnseignements, aENTEleveGroupes, aENTEleveStructRattachId, aENTEleveINE}},
	ocENTAuxPersRelEleve: {name: "ENTAuxPersRelEleve", oid: sdetClass + "3", desc: "CDC MENESR : personnes en relation avec les eleves",
		sup: "top", kind: "AUXILIARY", must: []attrID{aENTAuxPersRelEleveEleve}},
	ocENTAuxEnseignant: {name: "ENTAuxEnseignant", oid: sdetClass + "4", desc: "CDC MENESR : enseignants", sup: "top", kind: "AUXILIARY",
		may: []attrID{aENTAuxEnsCategoDiscipline, aENTAuxEnsMEF, aENTAuxEnsMatiereEnseignEtab, aENTAuxEnsClasses,
			aENTAuxEnsGroupes, aENTAuxEnsClassesMatieres, aENTAuxEnsGroupesMatieres, aENTAuxEnsClassesPrincipal}},
	ocENTAuxNonEnsEtab: {name: "ENTAuxNonEnsEtab", oid: sdetClass + "7", desc: "CDC MENESR : non enseignants des etablissements",
		sup: "top", kind: "AUXILIARY", may: []attrID{aENTAuxNonEnsEtabService}},
	ocENTAuxNonEnsCollLoc: {name: "ENTAuxNonEnsCollLoc", oid: sdetClass + "6", desc: "CDC MENESR : personnels des collectivites locales",
		sup: "top", kind: "AUXILIARY", may: []attrID{aENTAuxNonEnsCollLocService}},
	ocENTAuxPersExt:      {name: "ENTAuxPersExt", oid: sdetClass + "8", desc: "CDC MENESR : personnes exterieures (invites)", sup: "top", kind: "AUXILIARY"},
	ocEduMember:          {name: "eduMember", oid: "1.3.6.1.4.1.5923.1.5.2.1", kind: "AUXILIARY", may: []attrID{aIsMemberOf}},
	ocOrganizationalUnit: {name: "organizationalUnit", oid: "2.5.6.5", sup: "top", kind: "STRUCTURAL", must: []attrID{aOU}, may: []attrID{aDescription, aL, aPostalCode, aStreet, aTelephoneNumber}},
	ocENTStructure: {name: "ENTStructure", oid: sdetClass + "21", desc: "CDC MENESR : structures", sup: "organizationalUnit", kind: "STRUCTURAL",
		must: []attrID{aENTStructureJointure, aENTStructureNomCourant},
		may:  []attrID{aENTStructureTypeStruct, aENTStructureUAI, aENTStructureSIREN}},
	ocENTEtablissement: {name: "ENTEtablissement", oid: sdetClass + "22", desc: "CDC MENESR : etablissements", sup: "ENTStructure", kind: "STRUCTURAL",
		must: []attrID{aENTEtablissementContrat},
		may: []attrID{aENTEtablissementStructRattachFctl, aENTEtablissementBassin, aENTStructureClasses, aENTStructureGroupes,
			aENTEtablissementMinistereTutelle}},
	ocGroupOfNames: {name: "groupOfNames", oid: "2.5.6.9", sup: "top", kind: "STRUCTURAL", must: []attrID{aMember, aCN}, may: []attrID{aDescription, aOU}},
	ocENTClasse:    {name: "ENTClasse", oid: sdetClass + "41", desc: "CDC MENESR : classe d eleves", sup: "groupOfNames", kind: "STRUCTURAL"},
	ocENTGroupe:    {name: "ENTGroupe", oid: sdetClass + "42", desc: "CDC MENESR : groupe d eleves", sup: "groupOfNames", kind: "STRUCTURAL"},
	ocENTProfil:    {name: "ENTProfil", oid: sdetClass + "44", desc: "CDC MENESR : profils (un groupe par etablissement et profil national)", sup: "groupOfNames", kind: "STRUCTURAL"},
	ocDomain:       {name: "domain", oid: "0.9.2342.19200300.100.4.13", sup: "top", kind: "STRUCTURAL", must: []attrID{aDC}, may: []attrID{aDescription}},
	ocSubschema: {name: "subschema", oid: "2.5.20.1", kind: "AUXILIARY",
		may: []attrID{aAttributeTypes, aObjectClasses, aLDAPSyntaxes, aMatchingRules}},
	ocExtensibleObject: {name: "extensibleObject", oid: "1.3.6.1.4.1.1466.101.120.111", sup: "top", kind: "AUXILIARY"},
}

var ocByName = func() map[string]ocID {
	m := make(map[string]ocID, 2*numOCs)
	for i := range objectClasses {
		m[strings.ToLower(objectClasses[i].name)] = ocID(i)
		m[objectClasses[i].oid] = ocID(i)
	}
	return m
}()

// The matching rules and syntaxes published in cn=subschema.
var publishedRules = [][2]string{
	{"2.5.13.0", "objectIdentifierMatch"}, {"2.5.13.1", "distinguishedNameMatch"}, {"2.5.13.2", "caseIgnoreMatch"},
	{"2.5.13.3", "caseIgnoreOrderingMatch"}, {"2.5.13.4", "caseIgnoreSubstringsMatch"}, {"2.5.13.5", "caseExactMatch"},
	{"2.5.13.6", "caseExactOrderingMatch"}, {"2.5.13.7", "caseExactSubstringsMatch"}, {"2.5.13.13", "booleanMatch"},
	{"2.5.13.14", "integerMatch"}, {"2.5.13.20", "telephoneNumberMatch"}, {"2.5.13.21", "telephoneNumberSubstringsMatch"},
	{"2.5.13.27", "generalizedTimeMatch"}, {"2.5.13.28", "generalizedTimeOrderingMatch"}, {"2.5.13.30", "objectIdentifierFirstComponentMatch"},
	{"1.3.6.1.4.1.1466.109.114.1", "caseExactIA5Match"}, {"1.3.6.1.4.1.1466.109.114.2", "caseIgnoreIA5Match"},
	{"1.3.6.1.4.1.1466.109.114.3", "caseIgnoreIA5SubstringsMatch"}, {"1.3.6.1.1.16.2", "uuidMatch"}, {"1.3.6.1.1.16.3", "uuidOrderingMatch"},
}

var ruleSyntax = map[string]string{
	"objectIdentifierMatch": synOID, "distinguishedNameMatch": synDN, "caseIgnoreMatch": synDirectoryString,
	"caseIgnoreOrderingMatch": synDirectoryString, "caseIgnoreSubstringsMatch": "1.3.6.1.4.1.1466.115.121.1.58",
	"caseExactMatch": synDirectoryString, "caseExactOrderingMatch": synDirectoryString,
	"caseExactSubstringsMatch": "1.3.6.1.4.1.1466.115.121.1.58", "booleanMatch": "1.3.6.1.4.1.1466.115.121.1.7",
	"integerMatch": synInteger, "telephoneNumberMatch": synTel, "telephoneNumberSubstringsMatch": "1.3.6.1.4.1.1466.115.121.1.58",
	"generalizedTimeMatch": synTime, "generalizedTimeOrderingMatch": synTime, "objectIdentifierFirstComponentMatch": synOID,
	"caseExactIA5Match": synIA5, "caseIgnoreIA5Match": synIA5, "caseIgnoreIA5SubstringsMatch": "1.3.6.1.4.1.1466.115.121.1.58",
	"uuidMatch": synUUID, "uuidOrderingMatch": synUUID,
}

var publishedSyntaxes = [][2]string{
	{synDirectoryString, "Directory String"}, {synIA5, "IA5 String"}, {synDN, "DN"}, {synOID, "OID"},
	{synTime, "Generalized Time"}, {synTel, "Telephone Number"}, {synInteger, "INTEGER"},
	{"1.3.6.1.4.1.1466.115.121.1.7", "Boolean"}, {synUUID, "UUID"}, {synAttrTypeDesc, "Attribute Type Description"},
	{synOCDesc, "Object Class Description"}, {"1.3.6.1.4.1.1466.115.121.1.54", "LDAP Syntax Description"},
	{"1.3.6.1.4.1.1466.115.121.1.30", "Matching Rule Description"}, {"1.3.6.1.4.1.1466.115.121.1.58", "Substring Assertion"},
}

// subschemaValues renders the values of cn=subschema (RFC 4512 §4.1).
type subschemaValues struct {
	attributeTypes, objectClasses, ldapSyntaxes, matchingRules []string
}

var subschema = func() subschemaValues {
	var s subschemaValues
	q := func(x string) string { return "'" + strings.ReplaceAll(x, "'", "") + "'" }
	for _, a := range attrTypes {
		var b strings.Builder
		b.WriteString("( " + a.oid + " NAME ")
		if len(a.aliases) == 0 {
			b.WriteString(q(a.name))
		} else {
			b.WriteString("( " + q(a.name))
			for _, al := range a.aliases {
				b.WriteString(" " + q(al))
			}
			b.WriteString(" )")
		}
		if a.desc != "" {
			b.WriteString(" DESC " + q(a.desc))
		}
		if a.equality != "" {
			b.WriteString(" EQUALITY " + a.equality)
		}
		if a.ordering != "" {
			b.WriteString(" ORDERING " + a.ordering)
		}
		if a.substr != "" {
			b.WriteString(" SUBSTR " + a.substr)
		}
		b.WriteString(" SYNTAX " + a.syntax)
		if a.single {
			b.WriteString(" SINGLE-VALUE")
		}
		if a.operational {
			b.WriteString(" NO-USER-MODIFICATION USAGE directoryOperation")
		}
		b.WriteString(" )")
		s.attributeTypes = append(s.attributeTypes, b.String())
	}
	list := func(ids []attrID) string {
		if len(ids) == 1 {
			return attrTypes[ids[0]].name
		}
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = attrTypes[id].name
		}
		return "( " + strings.Join(names, " $ ") + " )"
	}
	for _, oc := range objectClasses {
		var b strings.Builder
		b.WriteString("( " + oc.oid + " NAME " + q(oc.name))
		if oc.desc != "" {
			b.WriteString(" DESC " + q(oc.desc))
		}
		if oc.sup != "" {
			b.WriteString(" SUP " + oc.sup)
		}
		b.WriteString(" " + oc.kind)
		if len(oc.must) > 0 {
			b.WriteString(" MUST " + list(oc.must))
		}
		if len(oc.may) > 0 {
			b.WriteString(" MAY " + list(oc.may))
		}
		b.WriteString(" )")
		s.objectClasses = append(s.objectClasses, b.String())
	}
	for _, sy := range publishedSyntaxes {
		s.ldapSyntaxes = append(s.ldapSyntaxes, "( "+sy[0]+" DESC "+q(sy[1])+" )")
	}
	for _, r := range publishedRules {
		s.matchingRules = append(s.matchingRules, "( "+r[0]+" NAME "+q(r[1])+" SYNTAX "+ruleSyntax[r[1]]+" )")
	}
	sort.Strings(s.ldapSyntaxes)
	return s
}()

// ruleByName maps matching rule names and OIDs (lower case) to how the
// extensible filter applies them; unknown rules make the item Undefined.
var ruleByName = func() map[string]match {
	m := map[string]match{}
	add := func(oid, name string, k match) {
		m[oid] = k
		m[strings.ToLower(name)] = k
	}
	add("2.5.13.0", "objectIdentifierMatch", mOID)
	add("2.5.13.1", "distinguishedNameMatch", mDN)
	add("2.5.13.2", "caseIgnoreMatch", mCaseIgnore)
	add("2.5.13.5", "caseExactMatch", mCaseExact)
	add("2.5.13.14", "integerMatch", mInteger)
	add("2.5.13.20", "telephoneNumberMatch", mTel)
	add("2.5.13.27", "generalizedTimeMatch", mTime)
	add("1.3.6.1.4.1.1466.109.114.1", "caseExactIA5Match", mCaseExact)
	add("1.3.6.1.4.1.1466.109.114.2", "caseIgnoreIA5Match", mCaseIgnore)
	add("1.3.6.1.1.16.2", "uuidMatch", mCaseIgnore)
	return m
}()

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
