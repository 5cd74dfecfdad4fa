from django import forms


class ClientSearchForm(forms.Form):
    SHOW_CHOICES = [
        ("clients", "Clients"),
        ("prospects", "Prospects"),
        ("archived", "Archived"),
        ("all", "All"),
    ]

    q = forms.CharField(label="Search clients", required=False, max_length=100)
    show = forms.ChoiceField(choices=SHOW_CHOICES, required=False)

    def filter(self, clients):
        """Narrow ``clients`` by the search text and the chosen filter."""
        if not self.is_valid():
            return clients.filter(is_archived=False)
        if q := self.cleaned_data["q"]:
            clients = clients.filter(name__icontains=q) | clients.filter(email__icontains=q)
        match self.cleaned_data["show"] or "clients":
            case "clients":
                clients = clients.filter(is_archived=False, is_prospect=False)
            case "prospects":
                clients = clients.filter(is_archived=False, is_prospect=True)
            case "archived":
                clients = clients.filter(is_archived=True)
        return clients
