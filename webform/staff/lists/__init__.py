"""The lists of campaigns, activities and documents, and a campaign's page.

    routes.py     `/campaigns`, `/activities`, `/documents`: filtered, sorted on an indexed key (activities also by
                  their day), a page at a time (keyset cursors), within scope — `crm_store.records.listing` as for
                  the part-1 lists; `/campaigns/CAM3`: the campaign's fields and its leads, contacts and
                  opportunities the user may see (`crm_store.records.campaign_page`)
    filters.py    each list's filters, sort and direction from the query string, and the choices of their selects
    tools.py      my saved filters, the CSV export and bulk actions of each list (`/activities/filters`,
                  `/activities/export.csv`, `/activities/bulk`, …), done by the records lists' tools

A list page gets the context of the records lists (`module`, `page`, `args`, `here`, `sorts`, `filtered`,
`owners`, `pool`, `tools`) and is drawn with the same table and tools (`staff/_list.html`).
"""
