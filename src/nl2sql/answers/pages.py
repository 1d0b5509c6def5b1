page_routes = []
