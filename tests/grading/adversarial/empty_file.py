# mode: replace
