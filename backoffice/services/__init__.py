"""Domain rules, one module per capability. Plain functions over db.session; views, jobs and CLI call them."""
