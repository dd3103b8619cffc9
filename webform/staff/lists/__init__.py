"""The lists of campaigns, activities and documents, and a campaign's page.

    routes.py     `/campaigns`, `/activities`, `/documents`: filtered, sorted on an indexed column, a page at a
                  time (keyset cursors), within scope — `crm_store.records.listing` as for the part-1 lists;
                  `/campaigns/CAM3`: the campaign's fields and its leads, contacts and opportunities the user
                  may see (`crm_store.records.campaign_page`)
    filters.py    each list's filters from the query string, and the choices of their selects

A list page gets the context of the records lists (`module`, `page`, `args`, `here`, `sorts`, `filtered`,
`owners`, `pool`) so what is drawn around a list can be shared with `staff/records/list.html`.
"""
