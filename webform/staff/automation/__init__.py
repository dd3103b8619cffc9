"""Automation (admins): the last runs of each scheduled flow and the health of mail delivery; `health` also
tells the layout's banner what is failing."""
