"""The sampling day itself: resident codes, check-ins, live coverage and the missed-household list.

Pure domain code over the plan's arrays (numpy); storage and the wire live in `api/`.
"""
