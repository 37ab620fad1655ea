from sync.services.connection_sync import sync_connection


def test_demo_sync_all(demo_connection, user):
    from datetime import date

    outcomes = sync_connection(
        connection_id=demo_connection.pk,
        user_id=user.pk,
        source="cli",
        start_date=date(2026, 5, 1),
        end_date=date(2026, 6, 15),
    )
    assert [o.failed for o in outcomes] == [False, False, False]
    assert outcomes[1].result.created > 0
