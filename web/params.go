package web

// PageParams and IDParam are pageInput and idInput under exported names,
// for embedding in an operation's input: huma reads only exported fields,
// and an embedded struct's field is named after its type (or alias), so an
// embedded pageInput or idInput is silently ignored — no id, no cursor.
type (
	PageParams = pageInput
	IDParam    = idInput
)
