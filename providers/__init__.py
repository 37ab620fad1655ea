"""Provider adapters: the protocol, DTOs, errors and one module per provider.

Nothing here imports from `sync/`: adapters return DTOs and raise the errors in
`providers.errors`; the sync handlers map those to models and domain errors.
"""
