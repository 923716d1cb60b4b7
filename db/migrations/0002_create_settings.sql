CREATE TABLE "consent_records" (
	"account_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"user_id" uuid,
	"scope" text NOT NULL,
	"decision" text NOT NULL,
	"method" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"user_agent" text,
	CONSTRAINT "consent_records_account_id_id_pk" PRIMARY KEY("account_id","id"),
	CONSTRAINT "consent_records_decision_check" CHECK ("consent_records"."decision" in ('granted','declined','withdrawn','notified'))
);
--> statement-breakpoint
CREATE TABLE "setting_locks" (
	"account_id" uuid NOT NULL,
	"layer" text NOT NULL,
	"scope_id" uuid NOT NULL,
	"key" text NOT NULL,
	"kind" text NOT NULL,
	"locked_by" text NOT NULL,
	"locked_at" timestamp with time zone NOT NULL,
	CONSTRAINT "setting_locks_account_id_layer_scope_id_key_pk" PRIMARY KEY("account_id","layer","scope_id","key"),
	CONSTRAINT "setting_locks_layer_check" CHECK ("setting_locks"."layer" in ('account','group')),
	CONSTRAINT "setting_locks_kind_check" CHECK ("setting_locks"."kind" in ('fixed','floor'))
);
--> statement-breakpoint
CREATE TABLE "setting_values" (
	"account_id" uuid NOT NULL,
	"layer" text NOT NULL,
	"scope_id" uuid NOT NULL,
	"key" text NOT NULL,
	"value" jsonb NOT NULL,
	"origin" text DEFAULT 'explicit' NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "setting_values_account_id_layer_scope_id_key_pk" PRIMARY KEY("account_id","layer","scope_id","key"),
	CONSTRAINT "setting_values_layer_check" CHECK ("setting_values"."layer" in ('account','group','user','meeting')),
	CONSTRAINT "setting_values_origin_check" CHECK ("setting_values"."origin" in ('explicit','gpc_signal','dnt_signal'))
);
--> statement-breakpoint
ALTER TABLE "consent_records" ADD CONSTRAINT "consent_records_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "setting_locks" ADD CONSTRAINT "setting_locks_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "setting_values" ADD CONSTRAINT "setting_values_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consent_records_user_idx" ON "consent_records" USING btree ("account_id","user_id","scope","at");