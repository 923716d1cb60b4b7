CREATE TABLE "support_grants" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"reason" text NOT NULL,
	"starts_at" timestamp (3) with time zone NOT NULL,
	"ends_at" timestamp (3) with time zone NOT NULL,
	"granted_by" text NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	"revoked_by" text,
	CONSTRAINT "support_grants_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "support_grants_period_check" CHECK ("support_grants"."starts_at" < "support_grants"."ends_at"),
	CONSTRAINT "support_grants_revoked_check" CHECK (("support_grants"."revoked_at" is null) = ("support_grants"."revoked_by" is null))
);
--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "waiting_since" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "consent_records" ADD COLUMN "receipt_kid" text;--> statement-breakpoint
ALTER TABLE "support_grants" ADD CONSTRAINT "support_grants_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "support_grants_active_idx" ON "support_grants" USING btree ("account_id","ends_at");