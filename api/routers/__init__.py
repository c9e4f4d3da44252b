"""One APIRouter per resource: scenarios, plans, jobs, lookup, exports, keys."""
