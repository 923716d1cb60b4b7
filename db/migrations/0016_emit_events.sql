CREATE TABLE "events" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"type" text NOT NULL,
	"meeting_id" uuid,
	"participant_id" uuid,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"cursor" bigint,
	CONSTRAINT "events_account_id_id_pk" PRIMARY KEY("account_id","id")
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"webhook_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer,
	"last_latency_ms" integer,
	"last_error" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"delivered_at" timestamp (3) with time zone,
	CONSTRAINT "webhook_deliveries_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "webhook_deliveries_status_check" CHECK ("webhook_deliveries"."status" in ('pending','delivered','failed'))
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"url" text NOT NULL,
	"event_types" text[] NOT NULL,
	"enabled" boolean NOT NULL,
	"disabled_reason" text,
	"secret" text NOT NULL,
	"previous_secret" text,
	"previous_until" timestamp (3) with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "webhooks_account_id_id_pk" PRIMARY KEY("account_id","id")
);
--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_fk" FOREIGN KEY ("account_id","webhook_id") REFERENCES "public"."webhooks"("account_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "events_cursor_unique" ON "events" USING btree ("cursor");--> statement-breakpoint
CREATE INDEX "events_unstamped_idx" ON "events" USING btree ("occurred_at") WHERE "events"."cursor" is null;--> statement-breakpoint
CREATE INDEX "events_meeting_idx" ON "events" USING btree ("account_id","meeting_id","cursor");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_once_unique" ON "webhook_deliveries" USING btree ("account_id","webhook_id","event_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_idx" ON "webhook_deliveries" USING btree ("account_id","webhook_id","created_at");--> statement-breakpoint
CREATE SEQUENCE events_cursor_seq;
--> statement-breakpoint
-- The transactional outbox: each change writes its event in its own transaction, by trigger, so
-- there is no event without its change and no change without its event. Payloads carry ids,
-- kinds and instants, never personal content. The relay stamps `cursor` after commit.
CREATE FUNCTION emit_event(account uuid, kind text, meeting uuid, participant uuid, payload jsonb) RETURNS void LANGUAGE sql AS $$
  INSERT INTO events (account_id, id, type, meeting_id, participant_id, payload, occurred_at)
  VALUES (account, gen_random_uuid(), kind, meeting, participant, payload, date_trunc('milliseconds', clock_timestamp()));
$$;
--> statement-breakpoint
CREATE FUNCTION events_from_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM emit_event(NEW.account_id, 'consent.' || NEW.decision, NEW.meeting_id, NEW.participant_id,
    jsonb_build_object('recordId', NEW.id, 'scope', NEW.scope, 'decision', NEW.decision, 'method', NEW.method,
      'noticeVersionId', NEW.notice_version_id, 'userId', NEW.user_id, 'at', NEW.at));
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER consent_records_events AFTER INSERT ON consent_records FOR EACH ROW EXECUTE FUNCTION events_from_consent();
--> statement-breakpoint
CREATE FUNCTION events_from_participant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.waiting_since IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.waiting_since IS NULL) THEN
    PERFORM emit_event(NEW.account_id, 'participant.waiting', NEW.meeting_id, NEW.id, jsonb_build_object('participantId', NEW.id, 'role', NEW.role, 'at', NEW.waiting_since));
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.role IS DISTINCT FROM OLD.role THEN
    PERFORM emit_event(NEW.account_id, 'participant.role_changed', NEW.meeting_id, NEW.id, jsonb_build_object('participantId', NEW.id, 'from', OLD.role, 'to', NEW.role));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER participants_events AFTER INSERT OR UPDATE ON participants FOR EACH ROW EXECUTE FUNCTION events_from_participant();
--> statement-breakpoint
-- A stay that opens is a join (or an admission from the waiting room); one that closes, a leave.
CREATE FUNCTION events_from_presence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM emit_event(NEW.account_id, 'participant.joined', NEW.meeting_id, NEW.participant_id, jsonb_build_object('participantId', NEW.participant_id, 'at', NEW.joined_at));
  ELSIF NEW.left_at IS NOT NULL AND OLD.left_at IS NULL THEN
    PERFORM emit_event(NEW.account_id, 'participant.left', NEW.meeting_id, NEW.participant_id, jsonb_build_object('participantId', NEW.participant_id, 'at', NEW.left_at));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER presence_intervals_events AFTER INSERT OR UPDATE ON presence_intervals FOR EACH ROW EXECUTE FUNCTION events_from_presence();
--> statement-breakpoint
CREATE FUNCTION events_from_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('live', 'ended', 'cancelled') THEN
    PERFORM emit_event(NEW.account_id, 'meeting.' || CASE NEW.status WHEN 'live' THEN 'started' ELSE NEW.status END, NEW.id, NULL,
      jsonb_build_object('meetingId', NEW.id, 'status', NEW.status));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER meetings_events AFTER UPDATE ON meetings FOR EACH ROW EXECUTE FUNCTION events_from_meeting();
--> statement-breakpoint
CREATE FUNCTION events_from_artefact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind text := CASE TG_TABLE_NAME WHEN 'recordings' THEN 'recording' ELSE 'transcript' END;
BEGIN
  IF NEW.status IN ('stored', 'deleted') AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status) THEN
    PERFORM emit_event(NEW.account_id, kind || '.' || NEW.status, NEW.meeting_id, NULL,
      jsonb_build_object(kind || 'Id', NEW.id, 'meetingId', NEW.meeting_id, 'grantId', NEW.grant_id, 'startedAt', NEW.started_at, 'endedAt', NEW.ended_at));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER recordings_events AFTER INSERT OR UPDATE ON recordings FOR EACH ROW EXECUTE FUNCTION events_from_artefact();
--> statement-breakpoint
CREATE TRIGGER transcripts_events AFTER INSERT OR UPDATE ON transcripts FOR EACH ROW EXECUTE FUNCTION events_from_artefact();
--> statement-breakpoint
-- A refused store writes no row, only its audit event: the refusal's event comes from there.
CREATE FUNCTION events_from_refusal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.action IN ('recording.rejected', 'transcript.rejected') THEN
    PERFORM emit_event(NEW.account_id, NEW.action, NEW.target_id::uuid, NULL,
      jsonb_build_object('meetingId', NEW.target_id, 'startedAt', NEW.details -> 'startedAt', 'endedAt', NEW.details -> 'endedAt', 'rules', (SELECT coalesce(jsonb_agg(v -> 'rule'), '[]'::jsonb) FROM jsonb_array_elements(coalesce(NEW.details -> 'violations', '[]'::jsonb)) AS v)));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_pending_refusal_events AFTER INSERT ON audit_pending FOR EACH ROW EXECUTE FUNCTION events_from_refusal();
--> statement-breakpoint
CREATE FUNCTION events_from_notice_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM emit_event(NEW.account_id, 'notice.version_published', NULL, NULL,
    jsonb_build_object('noticeId', NEW.notice_id, 'versionId', NEW.id, 'kind', NEW.kind, 'version', NEW.version, 'requiresReconsent', NEW.requires_reconsent));
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER notice_versions_events AFTER INSERT ON notice_versions FOR EACH ROW EXECUTE FUNCTION events_from_notice_version();
--> statement-breakpoint
CREATE FUNCTION events_from_setting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record := CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
BEGIN
  PERFORM emit_event(r.account_id, 'settings.changed', CASE r.layer WHEN 'meeting' THEN r.scope_id ELSE NULL END, NULL,
    jsonb_build_object('layer', r.layer, 'scopeId', r.scope_id, 'key', r.key, 'what', CASE TG_TABLE_NAME WHEN 'setting_locks' THEN 'lock' ELSE 'value' END, 'change', lower(TG_OP)));
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER setting_values_events AFTER INSERT OR UPDATE OR DELETE ON setting_values FOR EACH ROW EXECUTE FUNCTION events_from_setting();
--> statement-breakpoint
CREATE TRIGGER setting_locks_events AFTER INSERT OR UPDATE OR DELETE ON setting_locks FOR EACH ROW EXECUTE FUNCTION events_from_setting();
--> statement-breakpoint
CREATE FUNCTION events_from_privacy_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM emit_event(NEW.account_id, 'privacy_request.' || NEW.status, NULL, NULL,
      jsonb_build_object('requestId', NEW.id, 'type', NEW.type, 'status', NEW.status, 'subjectUserId', NEW.subject_user_id, 'dueAt', coalesce(NEW.extended_to, NEW.due_at)));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER privacy_requests_events AFTER INSERT OR UPDATE ON privacy_requests FOR EACH ROW EXECUTE FUNCTION events_from_privacy_request();
--> statement-breakpoint
CREATE FUNCTION events_from_legal_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM emit_event(NEW.account_id, 'legal_hold.created', NEW.meeting_id, NULL, jsonb_build_object('holdId', NEW.id, 'subjectUserId', NEW.subject_user_id, 'meetingId', NEW.meeting_id, 'from', NEW.from_at, 'until', NEW.until_at));
  ELSIF NEW.released_at IS NOT NULL AND OLD.released_at IS NULL THEN
    PERFORM emit_event(NEW.account_id, 'legal_hold.released', NEW.meeting_id, NULL, jsonb_build_object('holdId', NEW.id));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER legal_holds_events AFTER INSERT OR UPDATE ON legal_holds FOR EACH ROW EXECUTE FUNCTION events_from_legal_hold();
