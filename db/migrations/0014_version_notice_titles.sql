ALTER TABLE "notice_versions" ADD COLUMN "title" text;--> statement-breakpoint
-- Every published version gets the title its notice had, which is the one it was shown with.
-- The versions are immutable (notice_versions_immutable refuses UPDATE): the trigger stands aside
-- for this one backfill only, inside the migration's transaction.
ALTER TABLE "notice_versions" DISABLE TRIGGER "notice_versions_immutable";--> statement-breakpoint
UPDATE "notice_versions" SET "title" = "notices"."title" FROM "notices"
  WHERE "notices"."account_id" = "notice_versions"."account_id" AND "notices"."id" = "notice_versions"."notice_id";--> statement-breakpoint
ALTER TABLE "notice_versions" ENABLE TRIGGER "notice_versions_immutable";--> statement-breakpoint
ALTER TABLE "notice_versions" ALTER COLUMN "title" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "notices" DROP COLUMN "title";
