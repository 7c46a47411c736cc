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

func TestLoginAllocatorSkipsTakenAndKeepsCounting(t *testing.T) {
	taken := map[string]bool{"marie.martin": true, "marie.martin3": true}
	a := NewLoginAllocator(func(l string) bool { return taken[l] })
	var got []string
	for range 3 {
		l := a.Next("marie.martin")
		taken[l] = true
		got = append(got, l)
	}
	if got[0] != "marie.martin2" || got[1] != "marie.martin4" || got[2] != "marie.martin5" {
		t.Errorf("allocated %v, want marie.martin2, 4, 5", got)
	}
}

func TestFoldName(t *testing.T) {
	for in, want := range map[string]string{
		"Martin":            "martin",
		"Théo LEFÈVRE":      "theo lefevre",
		"ÉLODIE":            "elodie",
		"Lætitia Cœur":      "laetitia coeur",
		"Strauß":            "strauss",
		"Noël D'Aubigné":    "noel d'aubigne",
		"agent_b (cuisine)": "agent_b (cuisine)",
	} {
		if got := FoldName(in); got != want {
			t.Errorf("FoldName(%q) = %q, want %q", in, got, want)
		}
	}
}
