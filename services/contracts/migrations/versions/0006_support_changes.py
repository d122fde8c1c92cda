"""Every change a support status (MON-1) is read from announces itself (issue 19): `pg_notify('contracts_support',
subscriber_id)` from triggers, in the transaction that makes the change, so that each replica drops that subscriber's
kept answers on commit (`support_cache.py`). Triggers rather than calls beside each write: the status reads five
tables written from the consumers, the processing day and the maintenance API, and a write path added later cannot
forget to announce itself.

- `numbers`: the subscriber the number is registered to, before and after (a transfer changes two subscribers);
- `activations`: the activation's subscriber;
- `contracts`: the subscribers of the numbers a contract lists, when a contract becomes or stops being active or
  an active one changes what a status shows; once per statement (the processing day activates contracts in
  batches): past 100 subscribers, one empty notification (everyone) instead of one each. A contract enters as
  received, which no status reads, so its INSERT (a partner's POST) announces nothing and stays without a NOTIFY
  (0005);
- `partners`, `configurations`: a name, address or category every status may show: everyone.

PostgreSQL sends a payload once per transaction however often it is notified.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from shared.migrate import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The channel is services.contracts.support_cache.CHANNEL.
UPGRADE = """
CREATE FUNCTION announce_subscriber_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.subscriber_id IS NOT NULL THEN
        PERFORM pg_notify('contracts_support', OLD.subscriber_id::text);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.subscriber_id IS NOT NULL THEN
        PERFORM pg_notify('contracts_support', NEW.subscriber_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER numbers_announce AFTER INSERT OR UPDATE OR DELETE ON numbers
    FOR EACH ROW EXECUTE FUNCTION announce_subscriber_change();

CREATE TRIGGER activations_announce AFTER INSERT OR UPDATE OR DELETE ON activations
    FOR EACH ROW EXECUTE FUNCTION announce_subscriber_change();

CREATE FUNCTION announce_contract_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    subscribers uuid[];
BEGIN
    SELECT array_agg(DISTINCT n.subscriber_id) INTO subscribers
    FROM old_rows o
    JOIN new_rows c ON c.id = o.id
    JOIN contract_numbers cn ON cn.contract_id = c.id
    JOIN numbers n ON n.number = cn.registration_number
    WHERE (o.state = 'active' OR c.state = 'active')
      AND (o.state, o.period_from, o.period_to, o.number, o.partner_id, o.main_number, o.additional_numbers)
          IS DISTINCT FROM
          (c.state, c.period_from, c.period_to, c.number, c.partner_id, c.main_number, c.additional_numbers)
      AND n.subscriber_id IS NOT NULL;
    IF cardinality(subscribers) > 100 THEN
        PERFORM pg_notify('contracts_support', '');
    ELSIF subscribers IS NOT NULL THEN
        PERFORM pg_notify('contracts_support', s::text) FROM unnest(subscribers) AS s;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER contracts_announce AFTER UPDATE ON contracts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION announce_contract_changes();

CREATE FUNCTION announce_change_to_everyone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('contracts_support', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER partners_announce AFTER INSERT OR UPDATE OR DELETE ON partners
    FOR EACH STATEMENT EXECUTE FUNCTION announce_change_to_everyone();

CREATE TRIGGER configurations_announce AFTER INSERT OR UPDATE OR DELETE ON configurations
    FOR EACH STATEMENT EXECUTE FUNCTION announce_change_to_everyone();
"""

DOWNGRADE = """
DROP TRIGGER configurations_announce ON configurations;
DROP TRIGGER partners_announce ON partners;
DROP FUNCTION announce_change_to_everyone();
DROP TRIGGER contracts_announce ON contracts;
DROP FUNCTION announce_contract_changes();
DROP TRIGGER activations_announce ON activations;
DROP TRIGGER numbers_announce ON numbers;
DROP FUNCTION announce_subscriber_change();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
