"""The Django admin for magic-link auth: profiles, login IDs, pending links, sessions, keys, audit events.

- No secret is ever shown: token hashes, JTIs and private keys are neither fields nor loaded (``defer``),
  and pending links show their target masked.
- Lists stay fast at 100,000+ rows: every list joins what it displays (``list_select_related``), computes
  states from the row itself, sorts on an indexed column, searches addresses by their normalised form
  (an indexed equality or prefix match), and skips the unfiltered ``COUNT(*)`` (``show_full_result_count``).
- Actions call the same code as the API (``sessions.revoke``, ``flows.sign_in``), so signals and the audit
  log see admin actions like any other.
"""


from . import audit, keys, links, management_keys, sessions, users  # noqa: F401 - each module registers its pages
