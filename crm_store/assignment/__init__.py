"""Who gets a new lead.

    round_robin.py  rotations: a web form's list, a team's strategy (round robin with weights, least loaded),
                    caps of open leads, absent and inactive members passed over
    conditions.py   a rule's conditions: lead fields, operators, how values compare
    rules.py        the ordered assignment rules (first match wins) and `assign_by_rules`
    decisions.py    deciding owners for a batch of leads: rule, team, manager, unassigned pool
    handover.py     writing them: the leads, follow-ups, audit trail, new owners' email, cadence
"""
