package directory

import "testing"

func TestLoginBase(t *testing.T) {
	tests := []struct{ pattern, first, last, want string }{
		{"{prenom}.{nom}", "Éloïse", "D'Aubigné-Müller", "eloise.d-aubigne-muller"},
		{"{prenom}.{nom}", "Jean Marc", "LE  GOFF", "jean-marc.le-goff"},
		{"{prenom}.{nom}", "Lætitia", "Cœur", "laetitia.coeur"},
		{"{prenom}.{nom}", "", "Dupont", "dupont"},
		{"{prenom}.{nom}", "李", "王", "utilisateur"},
		{"{nom}{prenom}", "Ana", "Lima", "limaana"},
	}
	for _, tt := range tests {
		if got := LoginBase(tt.pattern, tt.first, tt.last); got != tt.want {
			t.Errorf("LoginBase(%q, %q, %q) = %q, want %q", tt.pattern, tt.first, tt.last, got, tt.want)
		}
	}
}

func TestUniqueLoginSuffixes(t *testing.T) {
	taken := map[string]bool{"lea.martin": true, "lea.martin2": true}
	if got := UniqueLogin("lea.martin", func(l string) bool { return taken[l] }); got != "lea.martin3" {
		t.Errorf("UniqueLogin = %q, want lea.martin3", got)
	}
	if got := UniqueLogin("paul.durand", func(l string) bool { return taken[l] }); got != "paul.durand" {
		t.Errorf("UniqueLogin of a free stem = %q", got)
	}
}
