-- Every write that changes what the processes cache (a user's status and roles, settings values
-- and locks, group membership and ranks, a meeting's row, the notices) announces it on the consentry_cache channel; the
-- notification is delivered when the transaction commits (src/lib/cache.ts). Payloads name the
-- scope: a:<account> (everything of the account), u:<account>:<user>, m:<account>:<meeting>.
CREATE FUNCTION consentry_announce_cache_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
  payload text;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  IF TG_TABLE_NAME = 'users' THEN
    payload := 'u:' || r.account_id || ':' || r.id;
  ELSIF TG_TABLE_NAME = 'meetings' THEN
    payload := 'm:' || r.account_id || ':' || r.id;
  ELSIF TG_TABLE_NAME = 'group_members' THEN
    payload := 'u:' || r.account_id || ':' || r.user_id;
  ELSIF TG_TABLE_NAME IN ('setting_values', 'setting_locks') THEN
    payload := CASE r.layer
      WHEN 'user' THEN 'u:' || r.account_id || ':' || r.scope_id
      WHEN 'meeting' THEN 'm:' || r.account_id || ':' || r.scope_id
      ELSE 'a:' || r.account_id
    END;
  ELSE
    payload := 'a:' || r.account_id;
  END IF;
  PERFORM pg_notify('consentry_cache', payload);
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- A new user: a chain cached while the id named nobody must not keep saying so.
CREATE TRIGGER users_announce_new AFTER INSERT ON users FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER users_announce_cache_change AFTER UPDATE ON users FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.roles IS DISTINCT FROM NEW.roles)
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER setting_values_announce_cache_change AFTER INSERT OR UPDATE OR DELETE ON setting_values FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER setting_locks_announce_cache_change AFTER INSERT OR UPDATE OR DELETE ON setting_locks FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER group_members_announce_cache_change AFTER INSERT OR UPDATE OR DELETE ON group_members FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER groups_announce_cache_change AFTER UPDATE OR DELETE ON groups FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();

--> statement-breakpoint
CREATE TRIGGER meetings_announce_cache_change AFTER UPDATE ON meetings FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER notices_announce_cache_change AFTER INSERT OR UPDATE ON notices FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
--> statement-breakpoint
CREATE TRIGGER notice_versions_announce_cache_change AFTER INSERT ON notice_versions FOR EACH ROW
  EXECUTE FUNCTION consentry_announce_cache_change();
