CREATE TABLE "audit_checkpoints" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"kid" text NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "legal_holds" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"subject_user_id" uuid,
	"meeting_id" uuid,
	"reason" text NOT NULL,
	"from_at" timestamp (3) with time zone NOT NULL,
	"until_at" timestamp (3) with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"released_at" timestamp (3) with time zone,
	"released_by" text,
	CONSTRAINT "legal_holds_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "legal_holds_target_check" CHECK (("legal_holds"."subject_user_id" is null) <> ("legal_holds"."meeting_id" is null)),
	CONSTRAINT "legal_holds_period_check" CHECK ("legal_holds"."until_at" is null or "legal_holds"."from_at" < "legal_holds"."until_at"),
	CONSTRAINT "legal_holds_released_check" CHECK (("legal_holds"."released_at" is null) = ("legal_holds"."released_by" is null))
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"account_id" uuid,
	"payload" jsonb NOT NULL,
	"status" text NOT NULL,
	"run_at" timestamp (3) with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"locked_until" timestamp (3) with time zone,
	"locked_by" text,
	"singleton_key" text,
	"last_error" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "jobs_status_check" CHECK ("jobs"."status" in ('queued','running','done','failed'))
);
--> statement-breakpoint
-- Transcripts stored before retention ran get the platform default period (30 days after they end).
ALTER TABLE "transcripts" ADD COLUMN "expires_at" timestamp (3) with time zone;--> statement-breakpoint
UPDATE "transcripts" SET "expires_at" = "ended_at" + interval '30 days';--> statement-breakpoint
ALTER TABLE "transcripts" ALTER COLUMN "expires_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_checkpoints" ADD CONSTRAINT "audit_checkpoints_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "legal_holds" ADD CONSTRAINT "legal_holds_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "legal_holds_subject_idx" ON "legal_holds" USING btree ("account_id","subject_user_id");--> statement-breakpoint
CREATE INDEX "legal_holds_meeting_idx" ON "legal_holds" USING btree ("account_id","meeting_id");--> statement-breakpoint
CREATE INDEX "jobs_due_idx" ON "jobs" USING btree ("status","run_at");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_singleton_unique" ON "jobs" USING btree ("singleton_key") WHERE "jobs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "transcripts_expiry_idx" ON "transcripts" USING btree ("expires_at");--> statement-breakpoint
-- The append-only evidence (consent records, the audit trail) keeps refusing UPDATE and DELETE,
-- with one exception: the purge, which sets the transaction-local consentry.purge_before to the
-- end of the period it applies, may delete rows written at or before that instant, and nothing newer.
CREATE FUNCTION evidence_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cutoff text := current_setting('consentry.purge_before', true);
BEGIN
  IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND cutoff <> '' AND OLD.at <= cutoff::timestamptz THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
DROP TRIGGER consent_records_append_only ON consent_records;--> statement-breakpoint
CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records
  FOR EACH ROW EXECUTE FUNCTION evidence_refuse_change();--> statement-breakpoint
DROP TRIGGER audit_entries_append_only ON audit_entries;--> statement-breakpoint
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION evidence_refuse_change();
